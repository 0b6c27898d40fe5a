"""Accepting an uploaded report file and handing it to an import task."""

from __future__ import annotations

import os

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from labeling.models import ImportBatch
from labeling.services.report_import import import_batch_create
from labeling.services.upload_store import upload_store_save


def report_upload_accept(*, upload: UploadedFile, user: User | None) -> ImportBatch:
    """Store the upload where workers can read it (labeling.services.upload_store) and queue its import."""
    from labeling.tasks import report_import_task  # here: labeling.tasks imports labeling.services

    safe_name = os.path.basename(upload.name or "upload")[:200]
    stored = upload_store_save(upload=upload, safe_name=safe_name)
    with transaction.atomic():
        batch = import_batch_create(filename=safe_name, user=user, stored_path=stored)
        transaction.on_commit(lambda: report_import_task.delay(batch.id))
    return batch
