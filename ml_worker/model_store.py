"""The model store: where checkpoints live between the worker that trains them and the
processes that load them, behind Django's storage API (STORAGES["models"]).

Local storage (the default): a checkpoint stays where training wrote it, under
CHEXGOLD_MODEL_DIR, and `ModelVersion.checkpoint_path` is that directory.
Object storage (CHEXGOLD_STORAGE=s3): training publishes the directory's files as
objects under `<directory name>/`, and `checkpoint_path` is `store:<directory name>`;
a process that loads it downloads it once into its own CHEXGOLD_MODEL_CACHE_DIR.
Either way `ml_worker/ml/` only ever sees a local directory, and stays Django-free.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

STORE_PREFIX = "store:"
_COMPLETE = ".complete"  # written last into a cached copy: a half-downloaded one is fetched again
_lock = threading.Lock()


def model_storage() -> Storage:
    return storages["models"]


def model_store_is_local() -> bool:
    return isinstance(model_storage(), FileSystemStorage)


def storage_walk(storage: Storage, prefix: str = "") -> Iterator[str]:
    """Every file name under `prefix` in `storage` (recursively, "/"-separated)."""
    dirs, files = storage.listdir(prefix)
    for name in sorted(files):
        yield f"{prefix}/{name}" if prefix else name
    for name in sorted(dirs):
        yield from storage_walk(storage, f"{prefix}/{name}" if prefix else name)


def checkpoint_publish(*, local_dir: Path) -> str:
    """Make a freshly written checkpoint directory loadable by every process; return the
    `checkpoint_path` to record. Local storage: the directory itself."""
    local_dir = Path(local_dir)
    if model_store_is_local():
        return str(local_dir)
    storage = model_storage()
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            storage.save(f"{local_dir.name}/{path.relative_to(local_dir).as_posix()}", File(fh))
    return f"{STORE_PREFIX}{local_dir.name}"


def checkpoint_local_path(checkpoint_path: str | Path) -> Path:
    """A local directory holding the checkpoint `checkpoint_path` names (downloaded and cached
    on first use when it lives in the object store)."""
    text = str(checkpoint_path)
    if not text.startswith(STORE_PREFIX):
        return Path(text)
    name = text[len(STORE_PREFIX):]
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"bad model store name {name!r}")
    if model_store_is_local():  # e.g. restored from an object-storage install into a local one
        return Path(settings.CHEXGOLD_MODEL_DIR) / name
    cache_root = Path(settings.CHEXGOLD_MODEL_CACHE_DIR)
    target = cache_root / name
    with _lock:
        if (target / _COMPLETE).exists():
            return target
        cache_root.mkdir(parents=True, exist_ok=True)
        storage = model_storage()
        with tempfile.TemporaryDirectory(dir=cache_root, prefix=f".{name}-") as tmp:
            staging = Path(tmp) / name
            found = False
            for key in storage_walk(storage, name):
                found = True
                dest = staging / Path(key).relative_to(name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with storage.open(key, "rb") as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
            if not found:
                raise FileNotFoundError(f"checkpoint {name!r} is not in the model store")
            (staging / _COMPLETE).write_text("")
            if (target / _COMPLETE).exists():  # another process finished first: keep its copy
                return target
            if target.exists():  # an interrupted download
                shutil.rmtree(target)
            staging.replace(target)
    return target
