"""Site admin: sign-in attempts, failures and sign-ins (django-axes), visible to
every user with the admin role, not only to superusers (AXES_ENABLE_ADMIN is
off so these registrations are the only ones). Failures and sign-ins are
read-only audit; deleting an attempt row unlocks that account/address."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.http import HttpRequest

from accounts.roles import Role
from accounts.selectors import user_roles


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
