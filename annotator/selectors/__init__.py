"""Reads of the review workflow, one module per subdomain; `access` holds the
reader-blinding policy. This package re-exports their public functions."""

from annotator.selectors.access import (  # noqa: F401
    AdjudicationAccess,
    ReadVsGold,
    ReportForWrite,
    adjudication_access,
    annotation_of_reader,
    annotation_visible_get,
    gold_feedback_due,
    gold_feedback_for_reader,
    reader_gold_visible,
    reader_reads_vs_gold,
    reads_visible_to,
    report_for_reader,
    report_for_reader_write,
    report_identifiers_for,
    report_ids_hidden_from,
    report_involves_user,
    report_metadata_visible,
    report_visible_get,
    reports_adjudicable_by,
    reports_awaiting_adjudication,
)
from annotator.selectors.adjudication import (  # noqa: F401
    AdjudicationItem,
    AdjudicationRead,
    AdjudicationView,
    adjudication_queue,
    adjudication_view_get,
    conflicting_observations,
)
from annotator.selectors.assignment import (  # noqa: F401
    QueueSummary,
    ReaderProgress,
    assignable_reports,
    first_assignable_report,
    read_is_used,
    reader_progress,
    reader_queue_summary,
    report_read_load,
    reservation_live_of_reader,
)
from annotator.selectors.calibration import (  # noqa: F401
    ReaderCalibration,
    calibration_accuracy,
    calibration_candidates_for,
    calibration_hidden_report_ids,
    calibration_period_open,
    calibration_periods,
    calibration_reports,
    reader_calibrates,
)
from annotator.selectors.flags import (  # noqa: F401
    flagged_report_ids,
    flagged_report_ids_subquery,
    flags_open,
    flags_recently_resolved,
    report_flag_state,
    report_is_flagged,
    unflagged_reports,
)
from annotator.selectors.gold import (  # noqa: F401
    GoldLabelChange,
    GoldSetComparison,
    gold_current_count,
    gold_history_of_report,
    gold_set_versions,
    gold_set_versions_compare,
)
from annotator.selectors.guidelines import (  # noqa: F401
    DEFAULT_GUIDELINES,
    Guideline,
    guideline_history,
    guidelines_current,
)
from annotator.selectors.prefill import (  # noqa: F401
    MachineLabels,
    evidence_for_js,
    machine_labels_for_report,
    sections_for_js,
)
from annotator.selectors.rereads import (  # noqa: F401
    IntraReaderAgreement,
    intra_reader_agreement,
    reread_pending_get,
)
from annotator.selectors.review_settings import (  # noqa: F401
    review_settings_get,
)
