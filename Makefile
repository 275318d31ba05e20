# Quick start: `make demo` (set up, then run the experiment DAG end to end on SQLite), `make test`, and
# `make airflow` (Airflow's UI and services on this machine, with the demo tables).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
EXTRAS := dev,postgres,mysql,celery

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
# An absolute SQLite path /a/b.db is written sqlite:///a/b.db ($(CURDIR) starts with a slash).
export AIRFLOW_CONN_AUTOML_DEFAULT ?= sqlite://$(CURDIR)/.airflow/automl.db
DEMO_TIME_LIMIT ?= 60

.PHONY: setup demo test test-generic-dialect lint format constraints benchmark-quality clean distributed-demo airflow

setup: $(STAMP)

# Reproducible installs: everything is pinned by constraints.txt, generated from a working
# environment by `make constraints` (upgrade on purpose, not by accident).
# Bytecode is compiled once at install, as in a deployed Airflow: without it every process (a task,
# a DAG parse) compiles Airflow from source again where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): pyproject.toml constraints.txt
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

$(AIRFLOW_HOME)/airflow.db: $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -30 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

demo: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	$(BIN)/python -m automl_demo seed
	@echo "Running automl_experiment with airflow dags test (log: .airflow/demo-run.log) ..."
	@$(BIN)/airflow dags test automl_experiment -c '{"fit_time_limit": $(DEMO_TIME_LIMIT)}' \
		> $(AIRFLOW_HOME)/demo-run.log 2>&1 || (tail -60 $(AIRFLOW_HOME)/demo-run.log; exit 1)
	@grep -o "DagRun Finished: dag_id=[^,]*, .*run_duration=[^,]*, state=[a-z]*" $(AIRFLOW_HOME)/demo-run.log \
		| sed 's/logical_date=.*run_duration/run_duration/'
	$(BIN)/python -m automl_demo show
	@echo "Running automl_drift_monitor over a simulated week (log: .airflow/demo-week.log) ..."
	$(BIN)/python -m automl_demo week

# The whole of Airflow on this machine, for the UI: api-server on 127.0.0.1, port AIRFLOW_PORT (default
# 8080), scheduler, dag-processor and triggerer with the LocalExecutor on .airflow/airflow.db, the demo
# tables in .airflow/automl.db, alert e-mails caught into .airflow/mail/*.eml. Prints how to log in (user
# admin); Ctrl-C stops everything it started. Logs: .airflow/logs/local/. See docs/deployment.md.
airflow: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	$(BIN)/python scripts/airflow_local.py

# The table I/O and AUROC tests again with every test connection forced to the generic SQL dialect, on
# SQLite and PostgreSQL (tests/conftest.py; docs/deployment.md#databases-one-dialect-each-or-the-generic-one).
GENERIC_DIALECT_TESTS := tests/integration/test_sql_stores.py tests/integration/test_auroc_methods.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	AUTOML_TEST_DIALECT=generic $(BIN)/python -m pytest $(GENERIC_DIALECT_TESTS)

test-generic-dialect: $(STAMP)
	AUTOML_TEST_DIALECT=generic $(BIN)/python -m pytest $(GENERIC_DIALECT_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

constraints: $(STAMP)
	$(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable > constraints.txt

benchmark-quality: $(STAMP)
	$(BIN)/python benchmarks/quality_adult.py

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) .pytest_cache .ruff_cache

# The distributed topology of docker-compose.yaml on this machine, without Docker: PostgreSQL metadata
# database, Redis broker, api-server, scheduler, dag-processor, triggerer, two Celery workers. Runs
# automl_experiment through the REST API, then automl_drift_monitor on a drifted day, checks the alert
# e-mail, stops what it started. Needs PostgreSQL and Redis on 127.0.0.1 (.ci/run starts them).
# Logs: .airflow/distributed/process-logs/. See docs/deployment.md.
distributed-demo: $(STAMP)
	$(BIN)/python scripts/distributed_demo.py
