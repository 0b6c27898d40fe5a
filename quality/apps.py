from django.apps import AppConfig

# Saves that move statistics figures: each queues a (debounced) background refresh.
# Bulk writes send no signal (rule and model predictions, report rows); they end
# with one of these saves (the import batch, the model version), and a viewer who
# finds figures older than the data queues a refresh too.
STATISTICS_SOURCES = ("labeling.Annotation", "labeling.GoldLabel", "labeling.GoldSetVersion", "labeling.ModelVersion",
                      "labeling.ImportBatch", "annotator.Flag")


class QualityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quality"
    verbose_name = "Quality: metrics, agreement, statistics"

    def ready(self) -> None:
        # Imported here: receivers need the app registry, which is ready only now.
        from django.db.models.signals import post_save

        from quality.services import statistics_changed

        for sender in STATISTICS_SOURCES:
            post_save.connect(statistics_changed, sender=sender, dispatch_uid=f"statistics-changed-{sender}")
