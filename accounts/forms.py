"""Forms of accounts pages (input parsing only)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import PasswordChangeForm

from accounts.services import user_password_set


class OwnPasswordChangeForm(PasswordChangeForm):
    """Django's change-your-own-password form (old password, new twice, the
    validators); the new password is set by `accounts.services.user_password_set`
    so the change is audited like an admin's reset."""

    def save(self, commit: bool = True) -> Any:
        user_password_set(user=self.user, password=self.cleaned_data["new_password1"], by=self.user)
        return self.user
