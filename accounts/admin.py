"""Site admin: sign-in attempts, failures and sign-ins (django-axes), visible to
every user with the admin role, not only to superusers (AXES_ENABLE_ADMIN is
off so these registrations are the only ones). Failures and sign-ins are
read-only audit; deleting an attempt row unlocks that account/address."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.roles import Role
from accounts.selectors import active_admin_ids, user_roles
from accounts.signals import LAST_ADMIN_MESSAGE


def _is_admin(request: HttpRequest) -> bool:
    return request.user.is_active and Role.ADMIN in user_roles(user=request.user)


class _AdminRoleViews:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessAttempt)
class SignInAttemptAdmin(_AdminRoleViews, AccessAttemptAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)  # deleting the attempts of an account or address unlocks it


@admin.register(AccessFailureLog)
class SignInFailureAdmin(_AdminRoleViews, AccessFailureLogAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class SignInAdmin(_AdminRoleViews, AccessLogAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LastAdminGuardedUserChangeForm(UserChangeForm):
    """The site admin's user form says plainly that the last active admin cannot
    lose the admin role, be deactivated or lose superuser status (the signal
    backstop in `accounts.signals` would refuse the save anyway, as a 500)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user = self.instance
        if user.pk is None:
            return cleaned
        groups = cleaned.get("groups")
        in_admin_group = (groups.filter(name=Role.ADMIN.group_name).exists() if groups is not None
                          else user.groups.filter(name=Role.ADMIN.group_name).exists())
        stays_admin = cleaned.get("is_active", user.is_active) and (cleaned.get("is_superuser", user.is_superuser) or in_admin_group)
        current = active_admin_ids()
        if not stays_admin and current and not (current - {user.pk}):
            raise ValidationError(LAST_ADMIN_MESSAGE)
        return cleaned


class LastAdminGuardedUserAdmin(UserAdmin):
    form = LastAdminGuardedUserChangeForm

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and active_admin_ids() == {obj.pk}:
            return False  # the last active admin
        return super().has_delete_permission(request, obj)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), LastAdminGuardedUserAdmin)
