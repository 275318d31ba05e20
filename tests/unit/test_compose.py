"""
docker-compose.yaml: valid against the Compose specification's JSON schema (no Docker engine here), and
the same services, commands and settings as the native run (`make distributed-demo`), which reads it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared"))
SCHEMA = SHARED / "schemas" / "compose-spec.json"

# What the native run may replace (places: hosts, ports, paths) and add (what an image or a container
# gives for free). Listed here, not imported, so widening the script's list fails this test.
LOCATION_SETTINGS = {
    "AIRFLOW_CONFIG",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__AUTOML__MODEL_STORE",
    "AIRFLOW_CONN_AUTOML_DEFAULT",
    "AIRFLOW_CONN_SMTP_DEFAULT",
}
NATIVE_ADDITIONS = {
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE",
    "PATH",
}
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker", "--queues", "default,automl"],
}
PLACES = {
    "postgres": "postgresql://postgres@127.0.0.1:5432",
    "meta_db": "meta",
    "tracking_db": "tracking",
    "redis": "redis://127.0.0.1:6379",
    "redis_db": 13,
    "api_port": 18080,
    "smtp_port": 11025,
}


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("distributed_demo", ROOT / "scripts" / "distributed_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose(demo):
    return demo.load_compose(ROOT / "docker-compose.yaml")


@pytest.fixture(scope="module")
def validator():
    import jsonschema

    if not SCHEMA.exists():
        pytest.fail(f"Compose JSON schema not found at {SCHEMA} (set AUTOML_SHARED_DIR to the shared/ folder)")
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def test_compose_file_is_valid_against_the_compose_spec(compose, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_check_catches_mistakes(compose, validator):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-apiserver"]["ports"] = "8080:8080"  # must be a list
    broken["services"]["airflow-scheduler"]["healthckeck"] = {}
    assert len(list(validator.iter_errors(broken))) == 2


def test_services_are_the_official_celery_layout(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "mailpit", "airflow-init", "airflow-cli", *AIRFLOW_COMMANDS}
    assert services["airflow-cli"]["profiles"] == ["debug"]
    for name in AIRFLOW_COMMANDS:
        assert services[name]["build"] == "." and "depends_on" in services[name]
        assert "./dags:/opt/airflow/dags:ro" in [
            v.replace("${AIRFLOW_PROJ_DIR:-.}", ".") for v in services[name]["volumes"]
        ]
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-worker"]["deploy"]["replicas"] == 2
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_key_settings(compose, demo):
    env = demo.common_environment(compose, {})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:airflow@postgres/")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:airflow@postgres/")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW_CONN_AUTOML_DEFAULT"] == "postgresql://airflow:airflow@postgres:5432/automl"
    assert env["AIRFLOW_CONN_SMTP_DEFAULT"].startswith("smtp://mailpit:1025?")
    assert "disable_tls=true" in env["AIRFLOW_CONN_SMTP_DEFAULT"]
    # The tracking database the connection names is created by the postgres service.
    assert "CREATE DATABASE automl " in compose["configs"]["automl-tracking-db"]["content"]


def test_native_run_starts_the_same_commands(compose, demo):
    ports = iter(range(20000, 20100))
    plan = demo.process_plan(compose, {}, lambda: next(ports))
    names = [p["name"] for p in plan]
    assert names == [
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker-1",
        "airflow-worker-2",
    ]
    for item in plan:
        service = item["name"].rsplit("-", 1)[0] if item["name"][-1].isdigit() else item["name"]
        expected = AIRFLOW_COMMANDS[service]
        assert Path(item["argv"][0]).name == "airflow"
        assert item["argv"][1 : 1 + len(expected)] == expected, item
        extra = item["argv"][1 + len(expected) :]
        assert extra in ([], ["--celery-hostname", f"{item['name']}@%h"])
    # Each local process gets its own log-server / health-check port (containers each have their own).
    ports_used = [v for p in plan for k, v in p["env"].items() if k.endswith("_PORT")]
    assert len(ports_used) == len(set(ports_used)) == 4
    # The queue follows the same variable in the worker's command and in the DAG's setting.
    plan = demo.process_plan(compose, {"AUTOML_TRAIN_QUEUE": "gpu"}, lambda: next(ports))
    assert plan[-1]["argv"][1:5] == ["celery", "worker", "--queues", "default,gpu"]
    assert demo.common_environment(compose, {"AUTOML_TRAIN_QUEUE": "gpu"})["AIRFLOW__AUTOML__TRAIN_QUEUE"] == "gpu"


def test_native_run_uses_the_same_settings(compose, demo, tmp_path):
    common = demo.common_environment(compose, {})
    native = demo.native_environment(compose, {}, home=tmp_path, places=PLACES)
    assert set(demo.LOCATION_SETTINGS) == LOCATION_SETTINGS
    changed = {k for k in common if native[k] != common[k]}
    assert changed <= LOCATION_SETTINGS
    assert set(native) - set(common) == NATIVE_ADDITIONS
    assert native["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://postgres@127.0.0.1:5432/meta"
    assert native["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://postgres@127.0.0.1:5432/meta"
    assert native["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/13"
    assert native["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert native["AIRFLOW__API__PORT"] == "18080"
    # The SMTP connection keeps compose's options, only the host moves.
    assert native["AIRFLOW_CONN_SMTP_DEFAULT"] == common["AIRFLOW_CONN_SMTP_DEFAULT"].replace(
        "mailpit:1025", "127.0.0.1:11025"
    )
    assert native["AIRFLOW__CORE__DAGS_FOLDER"] == str(ROOT / "dags")


def test_native_init_runs_the_compose_init_script(compose, demo):
    argv, env = demo.init_command(compose, {"_AIRFLOW_WWW_USER_PASSWORD": "s3cret"})
    assert argv[:2] == ["bash", "-c"]
    script = argv[2]
    assert "$$" not in script and "airflow db migrate" in script
    assert 'airflow pools set "$AIRFLOW__AUTOML__TRAIN_POOL" "$AUTOML_TRAIN_POOL_SLOTS"' in script
    assert env == {
        "_AIRFLOW_WWW_USER_USERNAME": "airflow",
        "_AIRFLOW_WWW_USER_PASSWORD": "s3cret",
        "AUTOML_TRAIN_POOL_SLOTS": "1",
    }


def test_compose_interpolation(demo):
    env = {"SET": "x", "EMPTY": ""}
    cases = {
        "${SET}": "x",
        "$SET/$$HOME": "x/$HOME",
        "${UNSET:-d}": "d",
        "${EMPTY:-d}": "d",
        "${EMPTY-d}": "",
        "${UNSET}": "",
        "a$${b}": "a${b}",
    }
    assert {k: demo.interpolate(k, env) for k in cases} == cases


def test_train_task_queue_and_pool_match_the_workers_and_the_init(compose, demo):
    """Parsed with the compose settings, the train task goes to a queue the workers serve, in the pool init creates."""
    common = demo.common_environment(compose, {})
    settings = {k: v for k, v in common.items() if k.startswith("AIRFLOW__AUTOML__TRAIN_")}
    code = (
        "import json, runpy; dag = runpy.run_path('dags/automl_experiment.py')['dag']; "
        "print(json.dumps({t.task_id: [t.queue, t.pool, t.executor_config] for t in dag.tasks}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **settings}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    tasks = json.loads(out.stdout.strip().splitlines()[-1])
    queue, pool, executor_config = tasks.pop("train")
    worker_queues = compose["services"]["airflow-worker"]["command"].split("--queues ")[1].split()[0]
    assert queue == "automl" and queue in demo.interpolate(worker_queues, {}).split(",")
    assert pool == settings["AIRFLOW__AUTOML__TRAIN_POOL"] == "automl_training"
    assert executor_config == {}  # no memory hint (and no kubernetes client here)
    # The other tasks stay on the default queue and pool.
    assert {tuple(v[:2]) for v in tasks.values()} == {("default", "default_pool")}


def test_dockerfile_extends_the_installed_airflow_with_the_constraints():
    from importlib.metadata import version

    text = (ROOT / "Dockerfile").read_text()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"FROM apache/airflow:{version('apache-airflow')}-python{python}" in text
    assert "-c /opt/automl/constraints.txt" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignored and "!airflow_automl_provider/" in ignored and "!constraints.txt" in ignored
