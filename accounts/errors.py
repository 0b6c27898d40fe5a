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


class AccountNameInvalid(DomainError):
    """A username that Django would not accept (letters, digits and @.+-_ only, at most 150)."""

    http_status = 400
    code = "invalid_username"


class AccountNotReader(DomainError):
    """An existing account was named as a reader but does not hold the reader role."""

    http_status = 409
    code = "not_a_reader"
