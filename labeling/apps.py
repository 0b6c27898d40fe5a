from django.apps import AppConfig


class LabelingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labeling"
    verbose_name = "Reports and labels"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from labeling.services.sessions import session_stamp_on_login

        user_logged_in.connect(session_stamp_on_login, dispatch_uid="labeling.session_stamp_on_login")
