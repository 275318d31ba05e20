"""The Airflow UI plugin of the provider: AutoML pages under ``/automl`` (see ``docs/ui.md``)."""
