"""Writes the API adds around the domain services."""

from __future__ import annotations

from django.db import transaction

from labeling.models import ModelVersion
from ml_worker.services import model_version_promote


def model_version_promote_audited(*, version: ModelVersion) -> ModelVersion:
    """Promote (or roll back to) `version` and record the change of every version
    whose `is_active` flipped in its simple-history audit trail.

    `ml_worker.services.model_version_promote` flips the flags with queryset
    updates, which write no history rows; saving the affected rows afterwards
    records who changed what (the acting user comes from the request)."""
    with transaction.atomic():
        previously_active = list(ModelVersion.objects.select_for_update().filter(is_active=True).exclude(id=version.id))
        promoted = model_version_promote(version=version)
        for row in [*previously_active, promoted]:
            row.refresh_from_db()
            row.save(update_fields=["is_active", "promoted_at"])
    return promoted
