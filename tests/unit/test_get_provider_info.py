"""
``get_provider_info``: what Airflow learns of the provider, checked against the code it names.

Every ``[automl]`` option the package and its DAG files read is declared, with the one default ``config.py``
reads it with, and Airflow answers ``conf.get`` with that default; every operator and hook module and every
extra link it lists imports; nothing outside ``config.py`` reads an option of its own.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
from importlib.metadata import distribution
from pathlib import Path

import pytest

from airflow_automl_provider import config
from airflow_automl_provider.get_provider_info import get_provider_info

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_automl_provider"
INFO = get_provider_info()
DECLARED = INFO["config"]["automl"]["options"]
CONF_READS = {"get", "getint", "getfloat", "getboolean", "getlist", "has_option", "get_mandatory_value"}
# Reads of their own that remain in modules being reorganised (plugins.data, monitoring): they go through
# config.py's functions once those modules are settled. An option name added here fails the test.
LEFTOVER_READS: set[tuple[str, str]] = set()


def _python_files() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "dags").glob("*.py")])


def _conf_reads(path: Path) -> list[tuple[str, str, int]]:
    """``(section, option, line)`` of each ``conf.<read>("section", "option", ...)`` call with literal names."""
    reads = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CONF_READS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "conf"
        ):
            names = [arg.value for arg in node.args[:2] if isinstance(arg, ast.Constant)]
            assert len(names) == 2, f"{path}:{node.lineno}: a config read whose section or option is not a literal"
            reads.append((*names, node.lineno))
    return reads


def _options_config_reads() -> set[str]:
    """The options ``config.py`` reads through ``_option("name")``."""
    tree = ast.parse(Path(config.__file__).read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_option"
    }


def test_the_package_name_is_the_distributions_and_the_info_fits_airflows_schema():
    import airflow
    import jsonschema

    assert INFO["package-name"] == distribution("airflow-automl-provider").metadata["Name"]
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def test_every_option_config_reads_is_declared_with_its_default_and_nothing_else():
    read = _options_config_reads()
    assert read == set(config.OPTIONS) == set(DECLARED)
    for name, option in config.OPTIONS.items():
        assert DECLARED[name]["default"] == option.default, name
        assert isinstance(option.default, str)
        assert DECLARED[name]["description"] and DECLARED[name]["example"] and DECLARED[name]["type"], name


@pytest.mark.parametrize("name", sorted(config.OPTIONS))
def test_airflow_answers_with_the_declared_default(monkeypatch, name):
    """Airflow loads the provider's declared defaults: an unset option reads as config.py's default."""
    from airflow.sdk import conf

    monkeypatch.delenv(f"AIRFLOW__AUTOML__{name.upper()}", raising=False)
    assert conf.get("automl", name) == config.OPTIONS[name].default


def test_the_functions_read_the_defaults(monkeypatch):
    import os

    for name in config.OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__AUTOML__{name.upper()}", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", "/srv/airflow")
    assert config.allowed_conn_ids() == ["automl_default"]
    assert config.allowed_schemas() is None
    assert config.lock_timeout() == config.DEFAULT_LOCK_TIMEOUT == 120.0
    assert config.uses_generic_dialect("automl_default") is False
    assert (config.ui_conn_id(), config.ui_schema(), config.mail_dir()) == ("automl_default", None, "")
    assert config.model_store() == config.default_store_uri() == "file:///srv/airflow/automl_models"
    assert config.model_store_conn_id() is None
    assert (config.drift_timezone(), config.owner_email()) == ("UTC", "")
    assert (config.train_pool(), config.train_queue(), config.train_task_mem()) == (None, None, "")
    assert (config.api_base_url(), config.api_base_url(absolute=True)) == ("", "http://localhost:8080")
    assert os.environ["AIRFLOW_HOME"] == "/srv/airflow"


def test_the_functions_read_what_is_set(monkeypatch):
    settings = {
        "ui_conn_id": "tracking_ro",
        "ui_schema": "ml",
        "mail_dir": " /var/mail/automl ",
        "model_store": "~/models",
        "model_store_conn_id": "aws_default",
        "drift_timezone": "Europe/Paris",
        "owner_email": "ml@example.com",
        "train_pool": "automl_training",
        "train_queue": "automl",
        "train_task_mem": "16Gi",
        "lock_timeout": "2.5",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"AIRFLOW__AUTOML__{name.upper()}", value)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/base/")
    monkeypatch.setenv("HOME", "/home/ml")
    assert (config.ui_conn_id(), config.ui_schema(), config.mail_dir()) == ("tracking_ro", "ml", "/var/mail/automl")
    assert (config.model_store(), config.model_store_conn_id()) == ("file:///home/ml/models", "aws_default")
    assert (config.drift_timezone(), config.owner_email()) == ("Europe/Paris", "ml@example.com")
    assert (config.train_pool(), config.train_queue(), config.train_task_mem()) == ("automl_training", "automl", "16Gi")
    assert config.lock_timeout() == 2.5
    assert config.api_base_url() == config.api_base_url(absolute=True) == "https://airflow.example.com/base"
    # Set empty: the same as unset where empty means "the default".
    for name in ("ui_conn_id", "drift_timezone", "train_pool", "model_store"):
        monkeypatch.setenv(f"AIRFLOW__AUTOML__{name.upper()}", "")
    assert (config.ui_conn_id(), config.drift_timezone(), config.train_pool()) == ("automl_default", "UTC", None)
    assert config.model_store() == config.default_store_uri()


def test_no_module_or_dag_file_reads_an_option_of_its_own():
    """Every option read is declared; outside config.py only the named leftovers read one directly."""
    outside = {}
    for path in _python_files():
        if path == Path(config.__file__):
            continue  # its one read takes the option's name from _option's argument
        for section, option, line in _conf_reads(path):
            if section == "automl":
                assert option in config.OPTIONS, f"{path}:{line}: [automl] {option} is not in config.OPTIONS"
            outside.setdefault((section, option), []).append(f"{path.relative_to(ROOT)}:{line}")
    assert set(outside) <= LEFTOVER_READS, outside
    for path in (ROOT / "dags").glob("*.py"):
        assert not _conf_reads(path), path


def _declared_modules(kind: str) -> list[str]:
    return [module for entry in INFO[kind] for module in entry["python-modules"]]


def _package_modules(subpackage: str) -> list[str]:
    package = importlib.import_module(f"airflow_automl_provider.{subpackage}")
    return [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.ispkg]


def test_every_operator_module_is_declared_and_defines_operators():
    from airflow.sdk import BaseOperator

    declared = _declared_modules("operators")
    assert "airflow_automl_provider.operators.drift" in declared
    assert sorted(declared) == sorted(_package_modules("operators"))
    for name in declared:
        module = importlib.import_module(name)
        own = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, BaseOperator) and obj.__module__ == name
        ]
        assert own, f"{name} defines no operator"


def test_every_declared_hook_module_defines_a_hook():
    from airflow.sdk import BaseHook

    for name in _declared_modules("hooks"):
        module = importlib.import_module(name)
        hooks = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, BaseHook) and obj.__module__ == name
        ]
        assert hooks and all(hook.hook_name for hook in hooks), name
    assert {"airflow_automl_provider.hooks.tracking", "airflow_automl_provider.hooks.model_store"} <= set(
        _declared_modules("hooks")
    )


def test_every_extra_link_is_declared_importable_and_used():
    from airflow.sdk import BaseOperator, BaseOperatorLink

    declared = INFO["extra-links"]
    used = set()
    for name in _declared_modules("operators"):
        for obj in vars(importlib.import_module(name)).values():
            if inspect.isclass(obj) and issubclass(obj, BaseOperator) and obj.__module__ == name:
                used |= {f"{type(link).__module__}.{type(link).__name__}" for link in obj.operator_extra_links}
    assert used == set(declared)
    for path in declared:
        module, _, cls = path.rpartition(".")
        link = getattr(importlib.import_module(module), cls)
        assert issubclass(link, BaseOperatorLink) and link.name, path


def test_the_plugin_is_registered_by_its_entry_point_only():
    """Listed under provider info's plugins as well, Airflow would load it twice with lazy loading off."""
    from importlib.metadata import entry_points

    from airflow.plugins_manager import AirflowPlugin

    assert "plugins" not in INFO
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.name == "automl"]
    plugin = entry.load()
    assert issubclass(plugin, AirflowPlugin) and plugin.name == "automl"


def test_importing_config_and_provider_info_stays_light():
    """DAG files and the ProvidersManager import these: no Airflow, no numpy or pandas."""
    import subprocess
    import sys

    code = (
        "import sys, airflow_automl_provider.get_provider_info, airflow_automl_provider.config; "
        "print(sorted(m for m in ('airflow', 'numpy', 'pandas', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_deployment_docs_give_each_options_default():
    rows = {}
    for line in (ROOT / "docs" / "deployment.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`[automl] "):
            rows[cells[0][len("`[automl] ") : -1]] = cells[1]
    assert set(rows) == set(config.OPTIONS)
    for name, option in config.OPTIONS.items():
        assert rows[name] == (f"`{option.default}`" if option.default else "empty"), name
