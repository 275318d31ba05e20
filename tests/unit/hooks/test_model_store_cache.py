"""
The local copies of models loaded from a remote store (a real fsspec ``memory://`` store): a bounded cache in
the temporary folder, one copy per saved version, whose copies are removed when they are evicted, when a copy
fails half-way, or when a copy does not match the manifest.
"""

from __future__ import annotations

import pytest

from airflow_automl_provider.hooks import model_store
from airflow_automl_provider.hooks.model_store import ModelIntegrityError, ModelStoreHook

pytestmark = pytest.mark.unit


@pytest.fixture
def remote(tmp_path, monkeypatch):
    """A store in fsspec's memory filesystem (a bucket of this test's own) and a temporary folder of its own."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(model_store.tempfile, "tempdir", str(tmp_path / "tmp"))
    store = ModelStoreHook(base_uri=f"memory://bucket-{tmp_path.name}/store")
    assert not store.is_local
    yield store
    store.base.rmdir(recursive=True)


def _save(store: ModelStoreHook, tmp_path, name: str, payload: bytes) -> dict:
    src = tmp_path / f"src-{name}-{payload.hex()}"
    (src / "models").mkdir(parents=True)
    (src / "predictor.pkl").write_bytes(payload)
    (src / "models" / "m.pkl").write_bytes(payload * 2)
    return store.save(str(src), name, {"label": "y"})


def _cached() -> list[str]:
    root = model_store.cache_dir()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_copy_that_does_not_match_is_removed_and_copied_again_once_the_store_is_right(remote, tmp_path):
    manifest = _save(remote, tmp_path, "m1", b"good")
    remote_file = remote.files_path(manifest) / "predictor" / "predictor.pkl"
    remote_file.write_bytes(b"bad!")  # changed in the store, or damaged on the way
    with pytest.raises(ModelIntegrityError, match="'predictor.pkl' of model 'm1' does not match"):
        remote._verified_local_dir(manifest)
    assert _cached() == []  # the bad copy is not kept for the next load
    remote_file.write_bytes(b"good")
    local = remote._verified_local_dir(manifest)
    assert open(f"{local}/predictor.pkl", "rb").read() == b"good"
    assert _cached() == [local.rsplit("/", 1)[1]]


def test_a_copy_that_fails_half_way_leaves_nothing(remote, tmp_path, monkeypatch):
    manifest = _save(remote, tmp_path, "m1", b"abc")
    copies = []

    def fail_on_the_second_file(fin, fout, length=0):
        copies.append(fout.name)
        if len(copies) == 2:
            raise OSError("connection reset")
        fout.write(fin.read())

    monkeypatch.setattr(model_store.shutil, "copyfileobj", fail_on_the_second_file)
    with pytest.raises(OSError, match="connection reset"):
        remote._verified_local_dir(manifest)
    assert _cached() == []  # no partial folder (".<key>-...") and no copy
    monkeypatch.undo()
    monkeypatch.setattr(model_store.tempfile, "tempdir", str(tmp_path / "tmp"))
    assert remote._verified_local_dir(manifest)  # the next load copies it whole


def test_at_most_the_configured_number_of_copies_are_kept(remote, tmp_path, monkeypatch):
    """The least recently used copies are removed first; the one just loaded is always kept."""
    monkeypatch.setattr(model_store, "REMOTE_CACHE_ENTRIES", 2)
    locals_ = []
    for i in range(4):
        manifest = _save(remote, tmp_path, f"m{i}", bytes([i]) * 8)
        locals_.append(remote._verified_local_dir(manifest).rsplit("/", 1)[1])
    assert len(set(locals_)) == 4
    assert _cached() == sorted(locals_[-2:])
    # Loading an older model again copies it again and evicts the least recently used one.
    first = remote._verified_local_dir(remote.manifest("m0")).rsplit("/", 1)[1]
    assert first == locals_[0] and _cached() == sorted([locals_[3], first])


def test_a_local_store_makes_no_copy(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(model_store.tempfile, "tempdir", str(tmp_path / "tmp"))
    store = ModelStoreHook(base_uri=f"file://{tmp_path}/store")
    manifest = _save(store, tmp_path, "m1", b"local")
    folder = tmp_path / "store" / "m1" / "versions" / manifest["version"] / "predictor"
    assert store._verified_local_dir(manifest) == str(folder)
    assert _cached() == []
