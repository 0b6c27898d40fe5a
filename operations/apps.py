from django.apps import AppConfig


class OperationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"
    verbose_name = "Operations (health, metrics, logs)"

    def ready(self) -> None:
        # One JSON line per Celery task (worker processes run django.setup(), so this runs there too).
        from operations import structured_logs

        structured_logs.task_logging_connect()
