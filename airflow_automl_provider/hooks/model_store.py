"""Model store: fitted predictors saved with a manifest under an ``ObjectStoragePath`` base location."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, ObjectStoragePath

from airflow_automl_provider import config
from airflow_automl_provider.config import default_store_uri as default_store_uri  # re-exported: imported from here

if TYPE_CHECKING:
    from pathlib import Path

MANIFEST = "manifest.json"
PREDICTOR_DIR = "predictor"
REPORT = "report.html"
SHARED_DIR = "_shared"
VERSIONS_DIR = "versions"
MANIFEST_VERSION = 2
#: Local copies of models from a remote store kept at most (one per saved version, most recently used).
REMOTE_CACHE_ENTRIES = 8

_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class ModelNotFoundError(LookupError):
    """No model saved under that name or shared id."""


class ModelIntegrityError(RuntimeError):
    """A saved model's files do not match its manifest; it is not loaded (loading would run pickle)."""


def validate_model_name(name: Any) -> str:
    """Model names become folder names: refuse path separators, ``..`` and other tricks."""
    if not isinstance(name, str) or not _MODEL_NAME_RE.match(name) or ".." in name:
        raise ValueError(
            f"Invalid model name {name!r}: expected letters, digits, '_', '-' or '.', starting with a letter "
            "or digit, without '..', at most 128 characters."
        )
    return name


def validate_shared_id(shared_model: Any) -> str:
    try:
        return str(uuid.UUID(str(shared_model)))
    except ValueError:
        raise ValueError(f"Invalid shared model id {shared_model!r}: expected a UUID.") from None


def safe_model_name(text: str, prefix: str = "") -> str:
    """
    A valid model name for any text (a run id, say), different for different texts. A text that is
    already a valid name stays as it is; any other keeps its letters, digits, ``_`` and ``-`` (the rest
    become ``_``) and ends with ``-`` and 12 hex digits of a hash of the whole text, so run ids such as
    ``exp_1``, ``exp.1``, ``exp:1`` and ``exp+1`` give four names that still read as the run id.
    ``prefix`` is put in front as it is.
    """
    name = prefix + text
    if _MODEL_NAME_RE.match(name) and "." not in name:
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_\-]", "_", name)
    if not cleaned[:1].isalnum():
        cleaned = "m" + cleaned
    return validate_model_name(f"{cleaned[:115]}-{hashlib.sha256(text.encode()).hexdigest()[:12]}")


def run_tag(text: str) -> str:
    """Eight hex digits of a hash of ``text`` (a run id): a short, safe, per-run suffix for a table name."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelStoreHook(BaseHook):
    """
    Save and load AutoGluon predictors under one base location.

    Each model is a folder ``<base>/<model_name>/``. A save writes the predictor's files, the report and
    the extras into a new folder ``versions/<version>/`` and then ``manifest.json`` (model id, name,
    version, AutoGluon version, problem type, features, SHA-256 of every file) beside ``versions/``: the
    manifest names the version that is loaded, so saving again under the same name switches to the new
    files only once they are complete, and until then the old version stays loadable. The version before
    the current one is kept too (a task that read the old manifest may still be loading it); older ones
    are removed. Checksums are verified before any file is unpickled. Models saved before versions
    (no ``version`` in the manifest) keep their files directly in the model's folder.

    :param base_uri: base location, an ``ObjectStoragePath`` URL; default ``[automl] model_store``,
        else ``$AIRFLOW_HOME/automl_models``.
    :param conn_id: connection for a remote store (``[automl] model_store_conn_id``).
    """

    hook_name = "AutoML model store"

    def __init__(self, base_uri: str | None = None, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base_uri = base_uri
        self._conn_id = conn_id

    @property
    def base(self) -> ObjectStoragePath:
        uri = self._base_uri or config.model_store()
        if "://" not in uri:
            uri = "file://" + os.path.abspath(os.path.expanduser(uri))
        conn_id = self._conn_id or config.model_store_conn_id()
        return ObjectStoragePath(uri, conn_id=conn_id) if conn_id else ObjectStoragePath(uri)

    @property
    def is_local(self) -> bool:
        return self.base.protocol in ("file", "local")

    def model_path(self, model_name: str) -> ObjectStoragePath:
        return self.base / validate_model_name(model_name)

    def files_path(self, manifest: dict[str, Any]) -> ObjectStoragePath:
        """The folder of the files that ``manifest`` describes (its version's, or the model's own for old ones)."""
        folder = self.model_path(manifest["model_name"])
        version = manifest.get("version")
        return folder / VERSIONS_DIR / _validate_version(version) if version else folder

    def report_path(self, model_name: str) -> ObjectStoragePath:
        """The current version's report of a model."""
        return self.files_path(self.manifest(model_name)) / REPORT

    # -- saving ---------------------------------------------------------------------------------------
    def save(
        self,
        local_dir: str,
        model_name: str,
        manifest: dict[str, Any],
        *,
        share: bool = True,
        report_html: str | None = None,
        extras: dict[str, str] | None = None,
        shared_model: str | None = None,
    ) -> dict[str, Any]:
        """
        Copy a saved predictor folder into the store; return the completed manifest.

        ``extras`` are small text files kept beside the predictor (the drift reference profile, say),
        checksummed in the manifest like the predictor's own files.
        """
        folder = self.model_path(model_name)
        previous = self._current_manifest(model_name)
        version = _new_version()
        target = folder / VERSIONS_DIR / version
        try:
            files: dict[str, str] = {}
            for root, _, names in os.walk(local_dir):
                for fname in sorted(names):
                    src = os.path.join(root, fname)
                    rel = os.path.relpath(src, local_dir).replace(os.sep, "/")
                    dest = target / PREDICTOR_DIR / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with open(src, "rb") as fin, dest.open("wb") as fout:
                        shutil.copyfileobj(fin, fout, 1 << 20)
                    files[rel] = _sha256(src)
            if report_html is not None:
                (target / REPORT).write_text(report_html)
            extra_sums = {}
            for name, content in (extras or {}).items():
                validate_model_name(name)
                (target / name).write_text(content)
                extra_sums[name] = hashlib.sha256(content.encode()).hexdigest()
            shared_model = (validate_shared_id(shared_model) if shared_model else str(uuid.uuid4())) if share else None
            manifest = {
                **manifest,
                "manifest_version": MANIFEST_VERSION,
                "model_name": model_name,
                "version": version,
                "previous_version": (previous or {}).get("version"),
                "shared_model": shared_model,
                "model_uri": str(folder),
                "report_uri": str(target / REPORT) if report_html is not None else None,
                "files": files,
                "extras": extra_sums,
            }
            text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
            (target / MANIFEST).write_text(text)  # a copy beside the files it describes
        except BaseException:
            if target.exists():  # never switched to: nothing refers to it
                target.rmdir(recursive=True)
            raise
        # The switch: the manifest in the model's folder names this version from now on.
        self._write_whole(folder / MANIFEST, text)
        if shared_model:
            link = self.base / SHARED_DIR / f"{shared_model}.json"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.write_text(json.dumps({"model_name": model_name}))
        self.log.info("Saved model %s (%d files) to %s, version %s", model_name, len(files), folder, version)
        self._prune(model_name, keep_from=(previous or {}).get("version") or version, legacy=previous)
        return manifest

    def _write_whole(self, path: ObjectStoragePath, text: str) -> None:
        """Replace a file so that a reader sees the old or the new text, never a part (an object store's put is)."""
        if not self.is_local:
            path.write_text(text)
            return
        partial = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        partial.write_text(text)
        os.replace(partial.path, path.path)

    def _current_manifest(self, model_name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.model_path(model_name) / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a damaged manifest is replaced by this save

    def _prune(self, model_name: str, keep_from: str, legacy: dict[str, Any] | None) -> None:
        """
        Remove the versions older than ``keep_from`` (the previous one). Versions sort by the time they
        were started, so a save still writing a newer version is never touched.
        """
        versions = self.model_path(model_name) / VERSIONS_DIR
        for path in versions.iterdir() if versions.exists() else []:
            if path.name < keep_from:
                path.rmdir(recursive=True)
        if legacy is not None and not legacy.get("version"):
            return  # the previous model is an unversioned one: it stays loadable this time
        old = self.model_path(model_name) / PREDICTOR_DIR
        if old.exists():  # files of a model saved before versions, now two saves behind
            old.rmdir(recursive=True)

    # -- loading --------------------------------------------------------------------------------------
    def resolve(self, model_name: str | None = None, shared_model: str | None = None) -> str:
        """The model name for a name or a shared id."""
        if model_name:
            validate_model_name(model_name)
            if not (self.model_path(model_name) / MANIFEST).exists():
                raise ModelNotFoundError(f"No model named {model_name!r} in the model store {self.base}.")
            return model_name
        if shared_model:
            link = self.base / SHARED_DIR / f"{validate_shared_id(shared_model)}.json"
            if not link.exists():
                raise ModelNotFoundError(f"No shared model with id {shared_model!r} in the model store {self.base}.")
            return validate_model_name(json.loads(link.read_text())["model_name"])
        raise ValueError("Give a model_name or a shared_model id.")

    def manifest(self, model_name: str | None = None, shared_model: str | None = None) -> dict[str, Any]:
        """The model's current manifest; a damaged one is an error naming the model and the file."""
        name = self.resolve(model_name, shared_model)
        path = self.model_path(name) / MANIFEST
        text = path.read_text()
        try:
            manifest = json.loads(text)
        except ValueError as err:
            raise ModelIntegrityError(
                f"The manifest of model {name!r} ({path}) is damaged: it is not JSON ({err}). Train the model again."
            ) from None
        missing = [k for k in ("model_name", "files") if k not in manifest] if isinstance(manifest, dict) else ["all"]
        if missing:
            raise ModelIntegrityError(
                f"The manifest of model {name!r} ({path}) is damaged: it lacks {missing}. Train the model again."
            )
        return manifest

    def read_extra(self, manifest: dict[str, Any], name: str) -> str:
        """A text file saved beside the model, checked against its manifest checksum."""
        digest = (manifest.get("extras") or {}).get(name)
        if digest is None:
            raise ModelNotFoundError(f"Model {manifest['model_name']!r} has no {name!r} saved with it.")
        text = (self.files_path(manifest) / validate_model_name(name)).read_text()
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise ModelIntegrityError(
                f"{name!r} of model {manifest['model_name']!r} does not match its checksum in the manifest."
            )
        return text

    def _verified_local_dir(self, manifest: dict[str, Any]) -> str:
        """A local folder with the predictor's files, each checked against the manifest."""
        source = self.files_path(manifest) / PREDICTOR_DIR
        expected: dict[str, str] = manifest["files"]
        present = {str(p.relative_to(source)).replace(os.sep, "/") for p in source.rglob("*") if p.is_file()}
        if present != set(expected):
            raise ModelIntegrityError(
                f"Model {manifest['model_name']!r} at {source} has files {sorted(present ^ set(expected))} "
                "added or removed since it was saved; refusing to load it."
            )
        local = source.path if self.is_local else _cached_copy(source, expected)
        for rel, digest in expected.items():
            if _sha256(os.path.join(local, rel)) != digest:
                if not self.is_local:  # a bad copy is not kept: the next load copies the store's files again
                    shutil.rmtree(local, ignore_errors=True)
                raise ModelIntegrityError(
                    f"File {rel!r} of model {manifest['model_name']!r} does not match its checksum in the "
                    "manifest (it was changed after saving); refusing to load it."
                )
        return local

    def load(self, model_name: str | None = None, shared_model: str | None = None) -> tuple[Any, dict[str, Any]]:
        """Load a predictor after checking its files; return ``(predictor, manifest)``."""
        from autogluon.tabular import TabularPredictor

        manifest = self.manifest(model_name, shared_model)
        local = self._verified_local_dir(manifest)
        predictor = TabularPredictor.load(local, verbosity=0, require_py_version_match=False)
        return predictor, manifest


def _new_version() -> str:
    """A version id that sorts by when the save started: ``20261202T023419123456Z-1a2b3c4d``."""
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


_VERSION_RE = re.compile(r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}$")


def _validate_version(version: Any) -> str:
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise ModelIntegrityError(f"Invalid model version {version!r} in a manifest.")
    return version


def cache_dir() -> Path:
    """Where local copies of models from a remote store are kept."""
    from pathlib import Path

    return Path(tempfile.gettempdir()) / "automl_model_cache"


def _cached_copy(source: ObjectStoragePath, files: dict[str, str]) -> str:
    """
    A local copy of a remote model's files: one per saved version (named by the checksums of its files),
    reused by later loads instead of a new temporary copy each time. The copy is made in a folder of its
    own and renamed into place whole (a copy that fails half-way is removed); the caller verifies every file's
    checksum before use and removes a copy that does not match. At most
    :data:`REMOTE_CACHE_ENTRIES` copies are kept, the least recently used removed first.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:32]
    final = root / key
    if not final.is_dir():
        partial = tempfile.mkdtemp(prefix=f".{key}-", dir=root)
        try:
            for rel in files:
                dest = os.path.join(partial, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with (source / rel).open("rb") as fin, open(dest, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
            try:
                os.rename(partial, final)
            except OSError:  # another load put the same copy in place first
                shutil.rmtree(partial, ignore_errors=True)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    os.utime(final)
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=os.path.getmtime)
    for old in entries[:-REMOTE_CACHE_ENTRIES]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return str(final)
