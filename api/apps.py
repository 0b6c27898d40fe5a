from django.apps import AppConfig


class ApiConfig(AppConfig):
    # Shared DRF plumbing only (errors, concurrency, pagination). Stays an installed
    # app because its migrations created the role-change table that accounts now owns.
    name = "api"
    verbose_name = "REST API plumbing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from api import schema  # noqa: F401 - registers the OpenAPI extension for our SessionAuthentication
