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

if TYPE_CHECKING:
    from pathlib import Path

MANIFEST = "manifest.json"
PREDICTOR_DIR = "predictor"
REPORT = "report.html"
SHARED_DIR = "_shared"
MANIFEST_VERSION = 1

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


def safe_model_name(text: str) -> str:
    """Turn any text (a run id, say) into a valid model name."""
    cleaned = re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_-") or "model"
    return validate_model_name(cleaned[:128])


def default_store_uri() -> str:
    home = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
    return "file://" + os.path.abspath(os.path.join(home, "automl_models"))


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelStoreHook(BaseHook):
    """
    Save and load AutoGluon predictors under one base location.

    Each model is a folder ``<base>/<model_name>/`` holding the predictor's files, a report and
    ``manifest.json`` (model id, name, AutoGluon version, problem type, features, SHA-256 of every
    file). The manifest is written last, so a model without one was never completely saved; its
    checksums are verified before any file is unpickled.

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
        from airflow.sdk import conf

        uri = self._base_uri or conf.get("automl", "model_store", fallback="") or default_store_uri()
        if "://" not in uri:
            uri = "file://" + os.path.abspath(os.path.expanduser(uri))
        conn_id = self._conn_id or conf.get("automl", "model_store_conn_id", fallback="") or None
        return ObjectStoragePath(uri, conn_id=conn_id) if conn_id else ObjectStoragePath(uri)

    @property
    def is_local(self) -> bool:
        return self.base.protocol in ("file", "local")

    def model_path(self, model_name: str) -> ObjectStoragePath:
        return self.base / validate_model_name(model_name)

    def report_uri(self, model_name: str) -> str:
        return str(self.model_path(model_name) / REPORT)

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
        target = self.model_path(model_name)
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
        for name, text in (extras or {}).items():
            validate_model_name(name)
            (target / name).write_text(text)
            extra_sums[name] = hashlib.sha256(text.encode()).hexdigest()
        shared_model = (validate_shared_id(shared_model) if shared_model else str(uuid.uuid4())) if share else None
        manifest = {
            **manifest,
            "manifest_version": MANIFEST_VERSION,
            "model_name": model_name,
            "shared_model": shared_model,
            "model_uri": str(target),
            "report_uri": str(target / REPORT) if report_html is not None else None,
            "files": files,
            "extras": extra_sums,
        }
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        if shared_model:
            link = self.base / SHARED_DIR / f"{shared_model}.json"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.write_text(json.dumps({"model_name": model_name}))
        self.log.info("Saved model %s (%d files) to %s", model_name, len(files), target)
        return manifest

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
        name = self.resolve(model_name, shared_model)
        return json.loads((self.model_path(name) / MANIFEST).read_text())

    def read_extra(self, manifest: dict[str, Any], name: str) -> str:
        """A text file saved beside the model, checked against its manifest checksum."""
        digest = (manifest.get("extras") or {}).get(name)
        if digest is None:
            raise ModelNotFoundError(f"Model {manifest['model_name']!r} has no {name!r} saved with it.")
        text = (self.model_path(manifest["model_name"]) / validate_model_name(name)).read_text()
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise ModelIntegrityError(
                f"{name!r} of model {manifest['model_name']!r} does not match its checksum in the manifest."
            )
        return text

    def _verified_local_dir(self, manifest: dict[str, Any]) -> str:
        """A local folder with the predictor's files, each checked against the manifest."""
        source = self.model_path(manifest["model_name"]) / PREDICTOR_DIR
        expected: dict[str, str] = manifest["files"]
        present = {str(p.relative_to(source)).replace(os.sep, "/") for p in source.rglob("*") if p.is_file()}
        if present != set(expected):
            raise ModelIntegrityError(
                f"Model {manifest['model_name']!r} at {source} has files {sorted(present ^ set(expected))} "
                "added or removed since it was saved; refusing to load it."
            )
        if self.is_local:
            local = source.path
        else:
            local = tempfile.mkdtemp(prefix="automl_model_")
            for rel in expected:
                dest = os.path.join(local, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with (source / rel).open("rb") as fin, open(dest, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
        for rel, digest in expected.items():
            if _sha256(os.path.join(local, rel)) != digest:
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
