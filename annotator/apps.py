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

        # The review settings are cached across requests (api.request_memo.shared_memoized).
        from django.db.models.signals import post_delete, post_save

        from annotator.models import ReviewSettings
        from api.request_memo import shared_row_forget

        def review_settings_forget(sender: object, **kwargs: object) -> None:
            shared_row_forget("review_settings")

        post_save.connect(review_settings_forget, sender=ReviewSettings, weak=False, dispatch_uid="annotator.review_settings_forget.save")
        post_delete.connect(review_settings_forget, sender=ReviewSettings, weak=False, dispatch_uid="annotator.review_settings_forget.delete")
