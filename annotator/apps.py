from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotator"
    verbose_name = "Review and adjudication"

    def ready(self) -> None:
        # Imported here: receivers need the app registry, which is ready only now.
        from accounts.signals import user_deactivated
        from annotator.services.assignment import reservations_release_on_deactivation

        user_deactivated.connect(reservations_release_on_deactivation, dispatch_uid="annotator.reservations_release_on_deactivation")
