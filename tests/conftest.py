"""Shared fixtures: an isolated Airflow home, real databases (SQLite, PostgreSQL), Adult data, one trained model."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared"))
ADULT = SHARED / "datasets" / "adult"
PG_DSN = os.environ.get("AUTOML_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root"}

# Airflow reads its configuration when first imported: isolate it before any test imports it.
_HOME = tempfile.mkdtemp(prefix="automl-test-airflow-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__AUTOML__MODEL_STORE"] = f"file://{_HOME}/automl_models"
# Every test connection is named automl_*: allowed by pattern (the default allows automl_default only).
os.environ["AIRFLOW__AUTOML__ALLOWED_CONN_IDS"] = "automl_*"

# Airflow's metadata database: one of the session's own in the machine's PostgreSQL. This process, the
# api-server and the `airflow` CLI children all use it at once, which Airflow's SQLite backend is not for
# ("intended for development purposes only"): on SQLite it was corrupted once in a CI run
# ("database disk image is malformed"). Tests that need Airflow on SQLite give it its own home.
META_DB_PREFIX = "automl_test_meta_"
# Named now, for Airflow reads its configuration when first imported; created by the ``airflow_metadata``
# fixture, which every test that migrates or uses the metadata database asks for, so that tests of pure
# logic run without PostgreSQL.
_META_DB = f"{META_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}"
_META_CREATED = False
if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:
    from sqlalchemy.engine import make_url

    _meta_url = make_url(PG_DSN).set(drivername="postgresql+psycopg2", database=_META_DB)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _meta_url.render_as_string(hide_password=False)
else:  # a run that brings its own metadata database keeps it
    _META_DB = None


def _admin_connection():
    import psycopg2

    try:
        conn = psycopg2.connect(PG_DSN)
    except psycopg2.OperationalError as err:
        pytest.fail(f"PostgreSQL is not reachable at {PG_DSN} (.ci/run starts it): {err}")
    conn.autocommit = True
    return conn


def _drop_database(cur, name: str) -> None:
    from psycopg2 import sql

    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def airflow_metadata():
    """
    Airflow's metadata database of this session, created (empty; ``airflow db migrate`` fills it) in the
    machine's PostgreSQL; those of sessions whose process has ended are dropped first.
    """
    global _META_CREATED
    if _META_DB is None or _META_CREATED:
        return
    from psycopg2 import sql

    conn = _admin_connection()
    cur = conn.cursor()
    cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [META_DB_PREFIX.replace("_", r"\_") + "%"])
    for (name,) in cur.fetchall():
        pid = name[len(META_DB_PREFIX) :].split("_")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _drop_database(cur, name)
    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_META_DB)))
    conn.close()
    _META_CREATED = True


def pytest_sessionfinish(session, exitstatus):
    if not _META_CREATED:
        return
    import warnings

    try:
        from airflow import settings

        settings.dispose_orm()
        conn = _admin_connection()
        _drop_database(conn.cursor(), _META_DB)
        conn.close()
    except BaseException as err:  # noqa: BLE001 (left for the next session to drop; the run's outcome stands)
        warnings.warn(f"could not drop the metadata database {_META_DB}: {err!r}", stacklevel=1)


# AUTOML_TEST_DIALECT=generic: every test connection uses the generic SQL dialect, without its
# database's fast paths ([automl] generic_dialect_conn_ids). Then only the tests that run on every
# database (the ``db`` fixture) run, on SQLite and PostgreSQL; those marked ``dialect_specific``
# (one database's own behaviour; ``dialect_specific("sqlite")``: on that database only) are skipped.
GENERIC_DIALECT = os.environ.get("AUTOML_TEST_DIALECT") == "generic"
if GENERIC_DIALECT:
    os.environ["AIRFLOW__AUTOML__GENERIC_DIALECT_CONN_IDS"] = "automl_*"


def pytest_collection_modifyitems(config, items):
    if not GENERIC_DIALECT:
        return
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        marker = item.get_closest_marker("dialect_specific")
        if marker and (not marker.args or params.get("db") in marker.args):
            reason = "tests one database's own dialect"
        elif "db" not in params:
            reason = "not a test of every database"
        elif params["db"] not in ("sqlite", "postgres"):
            reason = "the generic dialect is tested on SQLite and PostgreSQL"
        else:
            continue
        item.add_marker(pytest.mark.skip(reason=f"AUTOML_TEST_DIALECT=generic: {reason}"))


def _set_conn(conn_id: str, uri: str) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri


@pytest.fixture(scope="session")
def adult_frames():
    """The real UCI Adult train and test files (32,561 and 16,281 rows)."""
    from automl_demo import load_uci_adult

    if not (ADULT / "adult.data").exists():
        pytest.fail(f"UCI Adult not found under {ADULT}: the tests read ../shared/datasets/adult/")
    return load_uci_adult(str(ADULT / "adult.data")), load_uci_adult(str(ADULT / "adult.test"))


def _new_postgres_schema():
    """A fresh schema in the machine's PostgreSQL, dropped at the end."""
    schema = f"automl_t_{uuid.uuid4().hex[:8]}"
    conn = _admin_connection()
    conn.cursor().execute(f'CREATE SCHEMA "{schema}"')
    conn.close()
    _set_conn("automl_pg", PG_DSN)
    yield schema
    # A fresh connection: a fault test may have restarted the server meanwhile.
    conn = _admin_connection()
    conn.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.close()


def _new_mariadb_schema():
    """A fresh database (a schema, in MySQL terms) in the machine's MariaDB, dropped at the end."""
    import MySQLdb

    schema = f"automl_t_{uuid.uuid4().hex[:8]}"
    try:
        conn = MySQLdb.connect(**MARIADB)
    except MySQLdb.OperationalError as err:
        pytest.fail(f"MariaDB is not reachable at {MARIADB} (.ci/run starts it): {err}")
    conn.autocommit(True)
    conn.cursor().execute(f"CREATE DATABASE `{schema}` CHARACTER SET utf8mb4")
    # The connection's own database is the machine's `test`; the tests name their schema.
    _set_conn("automl_my", "mysql://root@127.0.0.1:3306/test")
    yield schema
    conn.cursor().execute(f"DROP DATABASE `{schema}`")
    conn.close()


# Session schemas for the integration tests; a module that counts rows takes a schema of its own.
postgres_schema = pytest.fixture(scope="session")(_new_postgres_schema)
mariadb_schema = pytest.fixture(scope="session")(_new_mariadb_schema)
module_postgres_schema = pytest.fixture(scope="module")(_new_postgres_schema)
module_mariadb_schema = pytest.fixture(scope="module")(_new_mariadb_schema)


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "automl.db"
    # An absolute path /a/b.db is written sqlite:///a/b.db (as the README shows users).
    _set_conn("automl_sqlite", f"sqlite://{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db(request):
    """(conn_id, schema) of each real database the same test runs against."""
    if request.param == "sqlite":
        request.getfixturevalue("sqlite_db")
        return "automl_sqlite", None
    if request.param == "postgres":
        return "automl_pg", request.getfixturevalue("postgres_schema")
    return "automl_my", request.getfixturevalue("mariadb_schema")


@pytest.fixture
def bad_scores(db):
    """
    (conn_id, schema, hook) with score tables ``scores_<case>`` that break one rule each of an
    evaluation (text, NULL, out-of-range scores, no rows, one class, NULL label), beside a good one.
    """
    import pandas as pd

    from airflow_automl_provider.hooks.tracking import TrackingHook

    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    good = pd.DataFrame({"label": ["a", "b", "a", "b"], "p": [0.1, 0.9, 0.4, 0.6]})
    cases = {
        "ok": good,
        "text": good.assign(p=["0.1", "high", "0.4", "0.6"]),
        "null": good.assign(p=[0.1, None, 0.4, 0.6]),
        "null_neg": good.assign(p=[None, 0.9, 0.4, 0.6]),
        "range": good.assign(p=[0.1, 1.7, 0.4, -0.2]),
        "range_neg": good.assign(p=[-0.1, 0.9, 0.4, 0.6]),
        "empty": good.head(0),
        "one_class": good.assign(label="b"),
        "null_label": good.assign(label=["a", "b", None, "b"]),
    }
    for case, frame in cases.items():
        hook.replace_with_frame(f"scores_{case}", frame, schema)
    return conn_id, schema, hook


@pytest.fixture
def nan_scores(postgres_schema):
    """(hook, schema) with PostgreSQL table ``scores_nan``: a NaN score, which only PostgreSQL keeps apart from NULL."""
    import pandas as pd

    from airflow_automl_provider.hooks.tracking import TrackingHook

    hook = TrackingHook(conn_id="automl_pg")
    hook.replace_with_frame("scores_nan", pd.DataFrame({"label": ["a", "b"], "p": [0.1, 0.9]}), postgres_schema)
    conn = hook.db_hook.get_conn()
    conn.cursor().execute(f"UPDATE {hook.dialect.table('scores_nan', postgres_schema)} SET p = 'NaN' WHERE label = 'b'")
    conn.commit()
    conn.close()
    return hook, postgres_schema


@pytest.fixture(scope="session")
def model_store(tmp_path_factory):
    return "file://" + str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def adult_model(adult_frames, sqlite_db, model_store):
    """One real AutoGluon model on 4,000 Adult rows (LightGBM only, to keep the suite fast)."""
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.operators.autogluon import AutoGluonTrainOperator

    train, _ = adult_frames
    TrackingHook(conn_id="automl_sqlite").replace_with_frame("adult_small", train.head(4000))
    op = AutoGluonTrainOperator(
        task_id="train",
        conn_id="automl_sqlite",
        input_table="adult_small",
        target_column="class",
        model_name="adult_small_model",
        time_limit=60,
        hyperparameters={"GBM": {}},
        model_store=model_store,
    )
    return op.execute(context={})
