"""Django side of the model: training runs (`training`), the model registry
(`registry`), batch inference (`inference`). The model code is `ml_worker.ml`
(Django-free). This package re-exports their public names."""

from ml_worker.services.inference import (  # noqa: F401
    INFERENCE_CHUNK,
    ROUTED_API_MAX_TEXTS,
    model_predictions_missing_create,
    model_relabel_progress,
    routed_labels_for_texts,
)
from ml_worker.services.registry import (  # noqa: F401
    NothingToRollBack,
    model_version_promote,
    model_version_register,
    model_version_rollback,
)
from ml_worker.services.training import (  # noqa: F401
    CANCEL_POLL_SECONDS,
    DEMO_TRAINING_OVERRIDES,
    MAX_RESUMES,
    NO_REPORTS_MESSAGE,
    OPEN_STATUSES,
    STALLED_AFTER,
    WORKER_STOPPING,
    NoTrainingData,
    TrainingConfigInvalid,
    TrainingData,
    TrainingRunConflict,
    demo_first_model_train,
    silver_rule_labels_complete,
    training_config_build,
    training_data_collect,
    training_periodic_check,
    training_run_cancel,
    training_run_create,
    training_run_execute,
    training_run_state_dir,
    training_runs_stalled_fail,
)
