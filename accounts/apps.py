from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Users, roles and sign-in"

    def ready(self) -> None:
        from accounts import directory, signals  # noqa: F401  (role-change audit receivers; directory settings check)
