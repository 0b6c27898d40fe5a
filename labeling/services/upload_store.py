"""Where uploaded report files wait for their import task: CHEXGOLD_UPLOAD_DIR (local storage,
shared with the workers) or, with CHEXGOLD_STORAGE=s3, the object store (STORAGES["uploads"]),
so the worker that imports a file needs no disk in common with the web process that took it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import UploadedFile

STORE_PREFIX = "store:"


def upload_store_save(*, upload: UploadedFile, safe_name: str) -> str:
    """Keep the upload under a unique name; return the `stored_path` to record on its batch."""
    unique = f"{uuid.uuid4().hex}-{safe_name}"
    storage = storages["uploads"]
    if not isinstance(storage, FileSystemStorage):
        return STORE_PREFIX + storage.save(unique, upload)
    directory = settings.CHEXGOLD_UPLOAD_DIR
    os.makedirs(directory, exist_ok=True)
    stored = os.path.join(directory, unique)
    with open(stored, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return stored


@contextlib.contextmanager
def upload_local_path(stored_path: str) -> Iterator[str]:
    """A local file with the upload's bytes for as long as the block runs (a temporary
    download when it lives in the object store)."""
    if not stored_path.startswith(STORE_PREFIX):
        yield stored_path
        return
    name = stored_path[len(STORE_PREFIX):]
    suffix = os.path.splitext(name)[1]
    with tempfile.TemporaryDirectory(prefix="chexgold-upload-") as tmp:
        local = os.path.join(tmp, "upload" + suffix)
        with storages["uploads"].open(name, "rb") as src, open(local, "wb") as out:
            shutil.copyfileobj(src, out)
        yield local
