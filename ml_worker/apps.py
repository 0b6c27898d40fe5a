from django.apps import AppConfig


class MlWorkerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ml_worker"
    verbose_name = "Model training and inference"
