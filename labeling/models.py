"""Reports, machine predictions, reader annotations, gold labels, model versions.

Provenance rule: machine predictions (rules, each model version) and human
annotations are separate rows; adjudication writes a new gold row and never
overwrites a reader's annotation. Invariants are database constraints.
Writes go through `labeling.services`; reads through `labeling.selectors`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        VALIDATING = "validating", "Validating"
        IMPORTING = "importing", "Importing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    filename = models.CharField(max_length=255)
    # Uploaded file waiting for (or being processed by) a task; empty for CLI imports.
    stored_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    # Every bad row: [{"line": int, "column": str|None, "message": str}, ...]
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    progress = models.FloatField(default=0.0)  # 0..1, for the progress bar
    # Likely identifiers found by privacy.deid (counts, lines, masked examples); see deid_summary.
    deid_findings = models.JSONField(default=dict, blank=True)
    # Withdrawn by an admin (`labeling.services.withdraw`): its reports left the
    # queues, statistics, exports and the current gold set; nothing was deleted.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    withdraw_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class LabelImport(models.Model):
    """A file of prior labels imported as gold, as one reader's reads, or as an
    external labeler's predictions (`annotator.services.label_import`): who
    imported which file when, and how it was read. Created only when the import
    wrote something; every row it wrote points here (provenance)."""

    class Kind(models.TextChoices):
        GOLD = "gold", "Gold labels"
        READS = "reads", "A reader's reads"
        PREDICTIONS = "predictions", "An external labeler's predictions"

    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The reader's username (reads) or the external labeler's name (predictions).
    name = models.CharField(max_length=150, blank=True)
    # How a 0 cell was read: "negative" (CheXpert) or "blank" (positive-only references).
    zero_means = models.CharField(max_length=8, default="negative")
    replace = models.BooleanField(default=False)  # gold: differing current gold was superseded
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_replaced = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    # Gold imports: the gold-set version frozen right after the import.
    gold_set_version = models.ForeignKey("GoldSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.kind})"


class Report(models.Model):
    class GoldSplit(models.TextChoices):
        UNASSIGNED = "", "Not gold yet"
        TRAIN = "train", "Train"
        VALIDATION = "validation", "Validation"

    external_id = models.CharField(max_length=200, unique=True)
    patient_id = models.CharField(max_length=200, blank=True, db_index=True)
    study_date = models.DateField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)  # extra input columns
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    # [[section name, heading start, body start, body end], ...] offsets into `text`
    sections = models.JSONField(default=list, blank=True)
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    # Assigned once, when the report first becomes gold, so validation never
    # leaks into training as the gold set grows.
    gold_split = models.CharField(max_length=16, choices=GoldSplit.choices, blank=True, default="")
    # Set while a reader's flag (annotator.Flag) is open: the report leaves the
    # queues, gold exports and training until an admin resolves the flag. Kept
    # here so labeling and ml_worker can filter without importing annotator.
    # Indexed only where true (flagged reports are few): an index over every row
    # misleads SQLite's planner into scanning reports instead of walking the
    # queue's priority index.
    is_flagged = models.BooleanField(default=False)
    # Its import batch was withdrawn (`labeling.services.withdraw`): out of the
    # queues, statistics, exports, gold and training, like a flagged report, but
    # only an admin's withdrawal sets it. Nothing about the report is deleted.
    is_withdrawn = models.BooleanField(default=False)
    # Identifier kinds replaced by placeholders at import (CHEXGOLD_DEID_POLICY=redact);
    # empty: stored as given. `text_sha256` is always the hash of the ORIGINAL text.
    redacted_kinds = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=Q(is_flagged=True), name="report_flagged_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="report_text_not_empty"),
            models.CheckConstraint(condition=~Q(external_id=""), name="report_external_id_not_empty"),
        ]

    def __str__(self) -> str:
        return self.external_id


class ModelVersion(models.Model):
    """A trained labeler. Lives here because predictions point to it; training
    runs and the model code live in ml_worker."""

    name = models.CharField(max_length=100, unique=True)
    checkpoint_path = models.CharField(max_length=500)
    base_encoder = models.CharField(max_length=500, blank=True)
    stage = models.CharField(max_length=16, blank=True)  # silver | gold | imported
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    is_active = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    model_card = models.JSONField(default=dict, blank=True)
    # The promotion gate's decision and figures (quality.gate): status, reason and,
    # per observation, whether it may pre-fill it. Set once, at registration; an
    # admin's promote or rollback changes `is_active`, never this. Empty: never
    # judged (versions from before the gate), which pre-fills nothing.
    gate = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return self.name


class MachinePrediction(models.Model):
    class Source(models.TextChoices):
        RULES = "rules", "Rule labeler"
        MODEL = "model", "Model"
        # Another labeler's output, imported from a file (`import_labels --as predictions`);
        # `source_version` is the labeler's name.
        EXTERNAL = "external", "External labeler"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="predictions")
    source = models.CharField(max_length=8, choices=Source.choices)
    # The rule labeler's version, or the model version's name.
    source_version = models.CharField(max_length=100)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="predictions")
    labels = models.JSONField()  # observation name -> LabelValue value
    probabilities = models.JSONField(null=True, blank=True)  # models: observation -> class -> p
    evidence = models.JSONField(null=True, blank=True)  # rules: observation -> [span dicts]
    # External predictions: the file they came from.
    label_import = models.ForeignKey(LabelImport, null=True, blank=True, on_delete=models.PROTECT, related_name="predictions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "source", "source_version"], name="one_prediction_per_source_version"),
            models.CheckConstraint(
                condition=(Q(source="model", model_version__isnull=False) | Q(source__in=["rules", "external"], model_version__isnull=True)),
                name="model_predictions_name_their_version",
            ),
        ]
        indexes = [models.Index(fields=["source", "source_version"])]


class Annotation(models.Model):
    """One reader's labels for one report."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="annotations")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    labels = models.JSONField()
    # The values committed before machine labels were revealed ("independent
    # first read"), kept to measure anchoring; null when not used.
    first_read_labels = models.JSONField(null=True, blank=True)
    # What the review page pre-filled when this read began, per observation
    # (`labeling.routing.PrefillCell`: value or none, source and its version, the
    # model's probability, contested): the provenance of every pre-filled value.
    prefill = models.JSONField(null=True, blank=True)
    # Per observation at submit: "kept" (the pre-filled value), "changed" (another
    # value), "chosen" (nothing was pre-filled, e.g. a contested row). Acceptance
    # and correction rates per source come from here.
    prefill_outcome = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)  # optimistic concurrency
    time_spent_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Reads imported from a file (`import_labels --as reads`): the file they came from.
    label_import = models.ForeignKey(LabelImport, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations")
    # A read of a calibration report (a gold report served unannounced to measure
    # the reader, `annotator.services.calibration`). It never counts: not toward
    # k, agreement, auto-gold, gold, acceptance rates or progress.
    is_calibration = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "reader"], name="one_annotation_per_reader_per_report"),
            models.CheckConstraint(condition=Q(version__gte=1), name="annotation_version_positive"),
        ]


class GoldLabel(models.Model):
    """The reference labels of a report. Never edited: a correction creates a new
    row that supersedes the old one; exactly one current row per report."""

    class Method(models.TextChoices):
        AGREEMENT = "agreement", "All readers agreed"
        ADJUDICATED = "adjudicated", "Adjudicated"
        IMPORTED = "imported", "Imported"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="gold_labels")
    labels = models.JSONField()
    method = models.CharField(max_length=16, choices=Method.choices)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="adjudications")
    annotations = models.ManyToManyField(Annotation, blank=True, related_name="gold_labels")
    rationale = models.TextField(blank=True)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by")
    is_current = models.BooleanField(default=True)
    # Method "imported": the file it came from (file name, who, when).
    label_import = models.ForeignKey(LabelImport, null=True, blank=True, on_delete=models.PROTECT, related_name="gold_labels")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report"], condition=Q(is_current=True), name="one_current_gold_label_per_report"),
        ]


class GoldSetVersion(models.Model):
    """A frozen, named snapshot of the gold set (for exports, training, comparison)."""

    name = models.CharField(max_length=100, unique=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    gold_labels = models.ManyToManyField(GoldLabel, through="GoldSetMembership", related_name="gold_set_versions")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class GoldSetMembership(models.Model):
    version = models.ForeignKey(GoldSetVersion, on_delete=models.CASCADE)
    report = models.ForeignKey(Report, on_delete=models.PROTECT)
    gold_label = models.ForeignKey(GoldLabel, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "report"], name="one_gold_label_per_report_per_gold_version"),
        ]


class RuntimeSettings(models.Model):
    """Settings an admin changes while the app runs; one row, seeded from the
    environment (see `labeling.selectors.runtime_settings_get`)."""

    class QueueOrder(models.TextChoices):
        DISAGREEMENT = "disagreement", "Disagreement first"
        UNCERTAINTY = "uncertainty", "Uncertainty first"
        RANDOM = "random", "Random"
        SEQUENTIAL = "sequential", "Sequential"

    class PromotionPolicy(models.TextChoices):
        AUTO = "auto", "Promote a new model when it beats the active one"
        MANUAL = "manual", "Admins promote models by hand"

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    reads_per_report = models.PositiveSmallIntegerField(default=2)
    reservation_minutes = models.PositiveIntegerField(default=30)
    queue_order = models.CharField(max_length=16, choices=QueueOrder.choices, default=QueueOrder.DISAGREEMENT)
    auto_gold = models.BooleanField(default=True)
    promotion_policy = models.CharField(max_length=8, choices=PromotionPolicy.choices, default=PromotionPolicy.AUTO)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Prefill(models.TextChoices):
        # Rows where the rules and a usable model disagree (or the routed model is
        # unsure) get no value: the reader must choose. The default.
        UNCONTESTED = "uncontested", "Uncontested values only (contested rows left for the reader)"
        # Every row gets the routed source's value; contested rows are still marked.
        ROUTED = "routed", "All values from the routed source"
        # (Review page and `label_reports --labeler routed`; see labeling.routing.)
    # Independent first read: no machine labels until the reader commits a first read.
        NONE = "none", "None: independent first read, machine labels shown after it"

    prefill = models.CharField(max_length=16, choices=Prefill.choices, default=Prefill.UNCONTESTED)

    class Meta:
        verbose_name_plural = "runtime settings"
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="runtime_settings_single_row"),
            models.CheckConstraint(condition=Q(reads_per_report__gte=1), name="reads_per_report_at_least_one"),
        ]


class Reservation(models.Model):
    """A report handed to a reader. While `state` is active and `expires_at` is in
    the future it counts toward the report's k reads. A skipped reservation keeps
    the report out of that reader's queue. Written by `annotator.services`; it
    lives here because the feedback release rule (`labeling.selectors`) hides the
    gold of reports a reader holds, below the layers that may not see `annotator`."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SKIPPED = "skipped", "Skipped"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="reservations")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations")
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Handed out as a calibration report (never counts toward k; the read it
    # leads to is an `Annotation` with is_calibration).
    is_calibration = models.BooleanField(default=False)

    class Meta:
        db_table = "annotator_reservation"  # moved from `annotator` (state only): the table keeps its name
        constraints = [models.UniqueConstraint(fields=["report", "reader"], name="one_reservation_per_reader_per_report")]
        indexes = [
            models.Index(fields=["report", "state", "expires_at"], name="annotator_r_report__eceb19_idx"),
            models.Index(fields=["reader", "state", "expires_at"], name="annotator_r_reader__a3277a_idx"),
        ]


class CalibrationPeriod(models.Model):
    """A span in which calibration reports are served. Readers see feedback on
    their calibration reads only once the period holding them has ended
    (`labeling.selectors.annotations_released`, hence here). Started and ended by
    `annotator.services.calibration`."""

    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "annotator_calibrationperiod"  # moved from `annotator` (state only): the table keeps its name
        ordering = ["-started_at", "-id"]
