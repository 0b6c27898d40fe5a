"""The `user_deactivated` and `password_set` signals, the audit of role
changes, and the last-admin backstop.

Every change to a user's groups (through the API, the admin pages, the site
admin or `create_user`) is recorded as a RoleChange, with the acting user taken
from the request that simple-history's middleware keeps. The services refuse
to remove the last active admin (`LastAdmin`) with a clear message; the
backstop here refuses the same for every other way a user row or its groups
can change (the Django site admin, a shell, a directory sync), so no path can
lock the site out of administration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, pre_delete, pre_save
from django.dispatch import Signal, receiver
from simple_history.models import HistoricalRecords

from accounts.errors import LastAdmin
from accounts.models import RoleChange
from accounts.roles import Role
from accounts.selectors import active_admin_ids

User = get_user_model()

# Sent by `accounts.services.user_deactivate` inside its transaction, with
# `user` (now inactive) and `by` (the admin). Apps above accounts clean up what
# they own without accounts importing them: annotator releases the user's
# reservations, privacy ends their sessions and revokes their API token.
user_deactivated = Signal()

# Sent by `accounts.services.user_password_set` inside its transaction, with
# `user` and `by`: privacy revokes the user's API token (it was issued against
# the old password) and, when someone else reset it, ends their sessions.
password_set = Signal()


# The source recorded on the RoleChange rows written while it is set (see `role_changes_from`).
_role_change_source: ContextVar[str] = ContextVar("role_change_source", default=RoleChange.Source.LOCAL)


@contextmanager
def role_changes_from(source: str) -> Iterator[None]:
    """Record the role changes made inside the block as coming from `source` (a
    RoleChange.Source value): the directory sync wraps its changes in it, so the
    audit says "directory (LDAP)" where there is no acting user to name."""
    token = _role_change_source.set(RoleChange.Source(source))
    try:
        yield
    finally:
        _role_change_source.reset(token)


def _actor() -> Any:
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _names(user: Any) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.role_change_audit")
def _groups_changed(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action == "pre_clear":
        # Remember what is about to go; recorded on post_clear.
        if reverse:
            instance._audit_cleared_users = list(instance.user_set.values_list("pk", flat=True))
        else:
            instance._audit_cleared_groups = list(instance.groups.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = set(getattr(instance, "_audit_cleared_users" if reverse else "_audit_cleared_groups", []))
    if not pk_set:
        return
    granted = action == "post_add"
    actor, source = _actor(), _role_change_source.get()
    pairs = ([(u, instance) for u in User.objects.filter(pk__in=pk_set)] if reverse
             else [(instance, g) for g in Group.objects.filter(pk__in=pk_set)])
    rows = []
    for user, group in pairs:
        after = _names(user)
        before = sorted(set(after) - {group.name}) if granted else sorted(set(after) | {group.name})
        rows.append(RoleChange(
            user=user, role=group.name, action=RoleChange.Action.GRANTED if granted else RoleChange.Action.REVOKED,
            roles_before=before, roles_after=after, changed_by=actor, source=source,
        ))
    RoleChange.objects.bulk_create(rows)


LAST_ADMIN_MESSAGE = "This is the last active admin; make another user admin first."


def _refuse_if_no_admin_would_remain(losing: set[int]) -> None:
    current = active_admin_ids()
    if current and not (current - losing):
        raise LastAdmin(LAST_ADMIN_MESSAGE)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.last_admin_backstop_groups")
def _last_admin_backstop_groups(sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in ("pre_remove", "pre_clear"):
        return
    admin_group = Group.objects.filter(name=Role.ADMIN.group_name).first()
    if admin_group is None:
        return
    if reverse:  # `instance` is a group losing users
        if instance.pk != admin_group.pk:
            return
        losing = set(pk_set or ()) if action == "pre_remove" else set(instance.user_set.values_list("pk", flat=True))
    else:  # `instance` is a user losing groups
        if action == "pre_remove" and admin_group.pk not in (pk_set or ()):
            return
        if action == "pre_clear" and not instance.groups.filter(pk=admin_group.pk).exists():
            return
        losing = {instance.pk}
    # Superusers stay admins without the group.
    losing -= set(User.objects.filter(pk__in=losing, is_superuser=True).values_list("pk", flat=True))
    if losing:
        _refuse_if_no_admin_would_remain(losing)


@receiver(pre_save, sender=User, dispatch_uid="accounts.last_admin_backstop_save")
def _last_admin_backstop_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not {"is_active", "is_superuser"} & set(update_fields)):
        return  # e.g. the last_login update on every sign-in
    if instance.is_active and (instance.is_superuser or instance.groups.filter(name=Role.ADMIN.group_name).exists()):
        return  # still an admin after this save
    _refuse_if_no_admin_would_remain({instance.pk})


@receiver(pre_delete, sender=User, dispatch_uid="accounts.last_admin_backstop_delete")
def _last_admin_backstop_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    _refuse_if_no_admin_would_remain({instance.pk})
