"""
Evaluation of a prediction table inside its database.

:mod:`.measures` builds the SQL of the measures and turns its sums into numbers, :mod:`.auroc`
chooses the fastest exact way to a table's AUROC, and :mod:`.delong` gives an AUROC's variance.
Nothing is imported here, so that importing one of them stays cheap.
"""
