"""Per-observation labelling guidelines, versioned."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotator.errors import ReviewError
from annotator.models import GuidelineVersion
from labeling.observations import OBSERVATION_NAMES


# --- guidelines, settings, users ---------------------------------------------------------------
@transaction.atomic
def guideline_update(*, observation: str, text: str, user: User | None) -> GuidelineVersion:
    """Add the next version of an observation's guideline (older versions stay)."""
    if observation not in OBSERVATION_NAMES:
        raise ReviewError(f"Unknown observation {observation!r}.")
    text = text.strip()
    if not text:
        raise ReviewError("The guideline text is empty.")
    last = GuidelineVersion.objects.select_for_update().filter(observation=observation).order_by("-version").first()
    if last is not None and last.text == text:
        return last
    return GuidelineVersion.objects.create(observation=observation, version=(last.version + 1) if last else 1, text=text, created_by=user)
