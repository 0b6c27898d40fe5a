"""Refusals of the account services, each with its HTTP meaning (`api.errors.DomainError`)."""

from __future__ import annotations

from api.errors import DomainError


class WeakPassword(DomainError):
    """The password fails Django's password validators (AUTH_PASSWORD_VALIDATORS);
    the message lists every validator's complaint."""

    http_status = 400
    code = "weak_password"


class LastAdmin(DomainError):
    """The change would leave no active admin."""

    http_status = 409
    code = "last_admin"


class ConfirmationRequired(DomainError):
    """An admin removing their own admin role must confirm it."""

    http_status = 400
    code = "confirmation_required"
