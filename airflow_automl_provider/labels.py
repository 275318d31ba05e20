"""
Labels compared as values, not as text: ``1`` is ``1.0`` (an INTEGER label read back from a REAL column),
``True`` is ``true`` and ``t`` (PostgreSQL booleans), as the training label's type would read them.
"""

from __future__ import annotations

import math

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _boolean(text: str) -> bool | None:
    folded = text.strip().lower()
    return True if folded in _TRUE else False if folded in _FALSE else None


def same_label(a: str, b: str) -> bool:
    """Whether two label texts are the same value: equal text, equal numbers, or the same boolean."""
    if a == b:
        return True
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    p, q = _boolean(a), _boolean(b)
    return p is not None and p == q


def match_label(wanted: str, seen: list[str]) -> str | None:
    """The one label text in ``seen`` that is ``wanted`` as a value (exact text first); ``None`` if none."""
    if wanted in seen:
        return wanted
    matches = [s for s in seen if same_label(s, wanted)]
    return matches[0] if len(matches) == 1 else None
