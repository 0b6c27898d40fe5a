from django.apps import AppConfig


class LabelingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labeling"
    verbose_name = "Reports and labels"

    def ready(self) -> None:
        # The runtime settings and the active model are cached across requests
        # (api.request_memo.shared_memoized): any save or delete drops the entry.
        from django.db.models.signals import post_delete, post_save

        from api.request_memo import shared_row_forget
        from labeling.models import ModelVersion, RuntimeSettings

        for model, key in ((RuntimeSettings, "runtime_settings"), (ModelVersion, "active_model")):
            def forget(sender: object, key: str = key, **kwargs: object) -> None:
                shared_row_forget(key)

            post_save.connect(forget, sender=model, weak=False, dispatch_uid=f"labeling.shared_row_forget.{key}.save")
            post_delete.connect(forget, sender=model, weak=False, dispatch_uid=f"labeling.shared_row_forget.{key}.delete")
