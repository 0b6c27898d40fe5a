"""Audit of role and account changes. Annotations, gold labels, model versions and runtime
settings are audited by django-simple-history; group membership has no history
of its own, so every change to it is recorded here (see `accounts.signals`).
Deactivations and password changes are recorded by `accounts.services`
(`AccountChange`; simple-history is not on User)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RoleChange(models.Model):
    class Action(models.TextChoices):
        GRANTED = "granted", "Granted"
        REVOKED = "revoked", "Revoked"

    class Source(models.TextChoices):
        """Where the change came from. A directory sync (`accounts.directory`) has no acting
        user (`changed_by` is empty): the source says it was the directory, not an unknown hand."""

        LOCAL = "local", "chexgold"
        OIDC = "oidc", "directory (OpenID Connect)"
        LDAP = "ldap", "directory (LDAP)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_changes")
    role = models.CharField(max_length=150)  # group name
    action = models.CharField(max_length=8, choices=Action.choices)
    # Roles held before and after the change (sorted group names).
    roles_before = models.JSONField(default=list)
    roles_after = models.JSONField(default=list)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="role_changes_made"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LOCAL)

    class Meta:
        db_table = "api_rolechange"
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.role} {self.action} for user {self.user_id}"


class AccountChange(models.Model):
    """Audit of account changes that are not role changes: deactivation and
    passwords set (by an admin, or by the user themself). Never the password."""

    class Action(models.TextChoices):
        DEACTIVATED = "deactivated", "Deactivated"
        PASSWORD_RESET = "password_reset", "Password reset by an admin"
        PASSWORD_CHANGED = "password_changed", "Password changed by the user"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_changes")
    action = models.CharField(max_length=20, choices=Action.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="account_changes_made"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} for user {self.user_id}"
