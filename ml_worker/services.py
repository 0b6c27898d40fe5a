"""Training and inference services (Django side of the model code)."""

from __future__ import annotations

from labeling.selectors import active_model_version_get


def model_predictions_missing_create() -> int:
    """Predict with the active model for reports that have no prediction from it."""
    if active_model_version_get() is None:
        return 0
    raise NotImplementedError("model inference arrives with the CheXbert-style labeler")


def demo_first_model_train() -> str:
    return "model training arrives with the CheXbert-style labeler"
