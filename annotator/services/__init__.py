"""Writes of the review workflow, one module per subdomain (assignment, reads,
re-reads, gold, flags, guidelines, review settings). This package re-exports
their public functions so callers write `services.annotation_submit(...)`."""

from annotator.errors import (  # noqa: F401
    AdjudicationRefused,
    GoldConflict,
    NoCapacity,
    NotAllowed,
    ReadUsed,
    ReviewError,
    StaleVersion,
)
from annotator.services.assignment import (  # noqa: F401
    MAX_ASSIGN_TRIES,
    PRIORITY_CHECK_SECONDS,
    next_report_assign,
    priority_open_recompute,
    report_priorities_refresh,
    report_random_key,
    reservation_skip,
    reservations_release_of_reader,
)
from annotator.services.base import (  # noqa: F401
    MAX_TIME_SPENT_SECONDS,
    full_labels,
    report_lock,
)
from annotator.services.calibration import (  # noqa: F401
    calibration_next_assign,
    calibration_period_end,
    calibration_period_start,
    calibration_rate_set,
    calibration_report_mark,
    calibration_report_unmark,
)
from annotator.services.flags import (  # noqa: F401
    flag_resolve,
    report_flag,
)
from annotator.services.gold import (  # noqa: F401
    GoldImportCounts,
    gold_adjudicate,
    gold_import,
    gold_set_version_freeze,
    import_batch_restore,
    import_batch_withdraw,
    report_gold_by_agreement_try,
)
from annotator.services.guidelines import (  # noqa: F401
    guideline_update,
)
from annotator.services.label_import import (  # noqa: F401
    LabelImportResult,
    label_file_import,
    label_upload_import,
)
from annotator.services.reads import (  # noqa: F401
    SubmitResult,
    annotation_draft_save,
    annotation_first_read_commit,
    annotation_reopen,
    annotation_submit,
    review_first_read_required,
    time_spent_clamp,
)
from annotator.services.rereads import (  # noqa: F401
    REREAD_MIN_AGE,
    reread_next_assign,
    reread_submit,
)
from annotator.services.review_settings import (  # noqa: F401
    review_settings_update,
)
