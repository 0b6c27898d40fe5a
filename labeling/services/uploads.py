"""Accepting an uploaded report file and handing it to an import task."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from labeling.models import ImportBatch
from labeling.services.report_import import import_batch_create


def report_upload_accept(*, upload: UploadedFile, user: User | None) -> ImportBatch:
    """Store the upload on disk (shared with workers) and queue its import."""
    from labeling.tasks import report_import_task  # here: labeling.tasks imports labeling.services

    directory = settings.CHEXGOLD_UPLOAD_DIR
    os.makedirs(directory, exist_ok=True)
    safe_name = os.path.basename(upload.name or "upload")[:200]
    stored = os.path.join(directory, f"{uuid.uuid4().hex}-{safe_name}")
    with open(stored, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    with transaction.atomic():
        batch = import_batch_create(filename=safe_name, user=user, stored_path=stored)
        transaction.on_commit(lambda: report_import_task.delay(batch.id))
    return batch
