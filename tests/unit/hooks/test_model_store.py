from __future__ import annotations

import hashlib
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
    run_id = "manual__2026-11-27T16:24:18.509354+00:00"
    name = safe_model_name(run_id, prefix="automl_model_")
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    assert name == f"automl_model_manual__2026-11-27T16_24_18_509354_00_00-{digest}"
    assert validate_model_name(name) == name
    assert safe_model_name("exp_1", prefix="m_") == "m_exp_1"  # already a valid name: as it is


def test_different_run_ids_never_share_a_model_name():
    """Run ids the REST API accepts that the old cleaning mapped to one name."""
    ids = ["exp_1", "exp.1", "exp:1", "exp+1", "exp 1", "exp__1", "exp-1", "éxp1", "_exp1", ".exp1", "ex/p1"]
    names = [safe_model_name(i) for i in ids]
    assert len(set(names)) == len(ids), names
    for name in names:
        assert validate_model_name(name) == name


def test_long_run_ids_are_cut_with_a_hash_of_the_whole():
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    assert len(safe_model_name(a)) == 128 and safe_model_name(a) != safe_model_name(b)


@pytest.fixture
def saved(tmp_path):
    """A model folder saved through the store (its files are stand-ins: these tests never unpickle)."""
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    (src / "predictor.pkl").write_bytes(b"predictor")
    (src / "models" / "m.pkl").write_bytes(b"model")
    store = ModelStoreHook(base_uri=f"file://{tmp_path}/store")
    manifest = store.save(str(src), "m1", {"label": "y"}, report_html="<html></html>")
    return store, manifest, tmp_path / "store" / "m1" / "versions" / manifest["version"]


def test_save_writes_manifest_with_checksums_and_shared_link(saved):
    store, manifest, folder = saved
    assert set(manifest["files"]) == {"predictor.pkl", "models/m.pkl"}
    assert json.loads((folder.parents[1] / "manifest.json").read_text())["files"] == manifest["files"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
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


def _predictor_dir(tmp_path, name: str, payload: bytes):
    src = tmp_path / name
    src.mkdir()
    (src / "predictor.pkl").write_bytes(payload)
    return str(src)


def test_saving_again_under_a_name_switches_only_when_complete(saved, tmp_path):
    """A second save writes a new version; a save that fails leaves the old one current and loadable."""
    store, first, _ = saved
    with pytest.raises(ValueError, match="Invalid model name"):
        store.save(_predictor_dir(tmp_path, "broken", b"new"), "m1", {"label": "y"}, extras={"../x": "boom"})
    assert store.manifest("m1") == first
    assert store._verified_local_dir(store.manifest("m1"))  # the old files, checksums intact
    versions = tmp_path / "store" / "m1" / "versions"
    assert [p.name for p in versions.iterdir()] == [first["version"]]  # the failed one is gone

    second = store.save(_predictor_dir(tmp_path, "v2", b"v2"), "m1", {"label": "y"})
    assert store.manifest("m1")["version"] == second["version"] != first["version"]
    assert set(store.manifest("m1")["files"]) == {"predictor.pkl"}  # no file of the first version mixed in
    local = store._verified_local_dir(store.manifest("m1"))
    assert open(f"{local}/predictor.pkl", "rb").read() == b"v2"
    # The version before stays (a task may still be loading it); the one before that goes.
    third = store.save(_predictor_dir(tmp_path, "v3", b"v3"), "m1", {"label": "y"})
    assert sorted(p.name for p in versions.iterdir()) == sorted([second["version"], third["version"]])
    assert third["previous_version"] == second["version"]


def test_a_model_saved_before_versions_still_loads_and_is_replaced_cleanly(tmp_path):
    """The old layout (files directly in the model's folder, no version in the manifest)."""
    store = ModelStoreHook(base_uri=f"file://{tmp_path}/store")
    old = tmp_path / "store" / "m0"
    (old / "predictor").mkdir(parents=True)
    (old / "predictor" / "predictor.pkl").write_bytes(b"old")
    manifest = {"model_name": "m0", "files": {"predictor.pkl": _sha(b"old")}, "extras": {}}
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert store._verified_local_dir(store.manifest("m0")) == str(old / "predictor")
    store.save(_predictor_dir(tmp_path, "n1", b"n1"), "m0", {"label": "y"})
    assert (old / "predictor").exists()  # the previous model, kept one save
    store.save(_predictor_dir(tmp_path, "n2", b"n2"), "m0", {"label": "y"})
    assert not (old / "predictor").exists()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "not JSON"), ('{"model_name": "m1", "fi', "not JSON"), ('{"model_name": "m1"}', "lacks \\['files'\\]")],
    ids=["empty", "truncated", "key removed"],
)
def test_a_damaged_manifest_names_the_model_and_the_file(saved, content, expected):
    store, _, folder = saved
    path = folder.parents[1] / "manifest.json"
    path.write_text(content)
    with pytest.raises(ModelIntegrityError, match=f"model 'm1' \\(file://{path}\\) is damaged: .*{expected}"):
        store.load("m1")


def test_a_remote_store_keeps_one_local_copy_per_version(tmp_path, monkeypatch):
    """Loads from a remote store reuse one cached copy per saved version instead of a new temp folder each."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    from airflow_automl_provider.hooks import model_store

    attach("memory", fs=MemoryFileSystem())
    monkeypatch.setattr(model_store.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    store = ModelStoreHook(base_uri=f"memory://bucket-{tmp_path.name}/store")
    assert not store.is_local
    first = store.save(_predictor_dir(tmp_path, "a", b"a"), "r1", {"label": "y"})
    copies = {store._verified_local_dir(store.manifest("r1")) for _ in range(3)}
    assert len(copies) == 1 and open(f"{copies.pop()}/predictor.pkl", "rb").read() == b"a"
    store.save(_predictor_dir(tmp_path, "b", b"b"), "r1", {"label": "y"})
    local = store._verified_local_dir(store.manifest("r1"))
    assert open(f"{local}/predictor.pkl", "rb").read() == b"b"
    cached = sorted(p.name for p in model_store.cache_dir().iterdir())
    assert len(cached) == 2 and first["version"] not in cached  # named by content, one per version
    # A changed remote file is still refused: the copy is checked on every load.
    (store.files_path(store.manifest("r1")) / "predictor" / "predictor.pkl").write_bytes(b"tampered")
    for path in model_store.cache_dir().iterdir():
        import shutil

        shutil.rmtree(path)
    with pytest.raises(ModelIntegrityError, match="checksum"):
        store._verified_local_dir(store.manifest("r1"))
