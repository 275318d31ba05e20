# The Airflow image docker-compose.yaml runs: the official Airflow 3.3.2 image plus this provider.
# Versions are pinned by the repo's constraints.txt (the same pins as `make setup`).
FROM apache/airflow:3.3.2-python3.11

USER root
# LightGBM (an AutoGluon model) needs the OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

USER airflow
WORKDIR /opt/airflow
COPY --chown=airflow:0 pyproject.toml README.md constraints.txt /opt/automl/
COPY --chown=airflow:0 airflow_automl_provider /opt/automl/airflow_automl_provider
# Pin apache-airflow to the image's version so pip cannot swap it (official advice for extending
# the image); the MySQL extra is left out (it needs client headers), Celery and PostgreSQL are in.
# The named volumes of docker-compose.yaml start as copies of /opt/airflow/{models,config}, owned by airflow.
RUN pip install --no-cache-dir -c /opt/automl/constraints.txt \
        "apache-airflow==${AIRFLOW_VERSION}" "/opt/automl[postgres,celery]" \
    && python -c "import airflow_automl_provider, autogluon.tabular" \
    && mkdir -p /opt/airflow/models /opt/airflow/config
# The demo (`docker compose run --rm airflow-cli python -m automl_demo seed`): not in the provider's wheel,
# copied beside it and importable through PYTHONPATH.
COPY --chown=airflow:0 automl_demo /opt/automl-demo/automl_demo
ENV PYTHONPATH=/opt/automl-demo${PYTHONPATH:+:${PYTHONPATH}}
RUN python -c "import automl_demo.cli"
