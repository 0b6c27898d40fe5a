from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "privacy"
    verbose_name = "Privacy: access audit, sessions, de-identification"

    def ready(self) -> None:
        # Imported here: receivers need the app registry, which is ready only now.
        from django.contrib.auth.signals import user_logged_in

        from accounts.signals import password_set, user_deactivated
        from privacy.services.sessions import (
            credentials_revoke_on_password_set,
            session_stamp_on_login,
            sessions_end_on_deactivation,
        )

        user_logged_in.connect(session_stamp_on_login, dispatch_uid="privacy.session_stamp_on_login")
        user_deactivated.connect(sessions_end_on_deactivation, dispatch_uid="privacy.sessions_end_on_deactivation")
        password_set.connect(credentials_revoke_on_password_set, dispatch_uid="privacy.credentials_revoke_on_password_set")
