from __future__ import annotations

import json

import pytest

from airflow_automl_provider.hooks.model_store import (
    ModelIntegrityError,
    ModelNotFoundError,
    ModelStoreHook,
    safe_model_name,
    validate_model_name,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("bad", ["../etc", "a/b", "..", "a..b", "/abs", "", "x" * 129, "a\\b", ".hidden", "a b"])
def test_model_names_with_path_tricks_are_refused(bad):
    with pytest.raises(ValueError, match="Invalid model name"):
        validate_model_name(bad)


def test_run_ids_become_safe_model_names():
    name = safe_model_name("automl_model_manual__2026-11-27T16:24:18.509354+00:00")
    assert name == "automl_model_manual__2026-11-27T16_24_18_509354_00_00"
    assert validate_model_name(name) == name


@pytest.fixture
def saved(tmp_path):
    """A model folder saved through the store (its files are stand-ins: these tests never unpickle)."""
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    (src / "predictor.pkl").write_bytes(b"predictor")
    (src / "models" / "m.pkl").write_bytes(b"model")
    store = ModelStoreHook(base_uri=f"file://{tmp_path}/store")
    manifest = store.save(str(src), "m1", {"label": "y"}, report_html="<html></html>")
    return store, manifest, tmp_path / "store" / "m1"


def test_save_writes_manifest_with_checksums_and_shared_link(saved):
    store, manifest, folder = saved
    assert set(manifest["files"]) == {"predictor.pkl", "models/m.pkl"}
    assert json.loads((folder / "manifest.json").read_text())["files"] == manifest["files"]
    assert store.resolve(shared_model=manifest["shared_model"]) == "m1"
    assert store.manifest("m1")["label"] == "y"
    assert store._verified_local_dir(manifest) == str(folder / "predictor")


def test_a_changed_file_is_refused_before_unpickling(saved):
    store, manifest, folder = saved
    (folder / "predictor" / "models" / "m.pkl").write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match="models/m.pkl.*checksum"):
        store.load("m1")


def test_an_added_file_is_refused(saved):
    store, manifest, folder = saved
    (folder / "predictor" / "evil.pkl").write_bytes(b"x")
    with pytest.raises(ModelIntegrityError, match="evil.pkl"):
        store.load("m1")


def test_unknown_models_name_what_was_asked(saved):
    store, *_ = saved
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        store.load("nope")
    with pytest.raises(ModelNotFoundError, match="00000000-0000-0000-0000-000000000000"):
        store.load(shared_model="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValueError, match="expected a UUID"):
        store.load(shared_model="not-a-uuid")
