"""The `user_deactivated` signal, and the audit of role changes: every change
to a user's groups (through the API, the admin pages, the site admin or
`create_user`) is recorded as a RoleChange, with the acting user taken from
the request that simple-history's middleware keeps."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed
from django.dispatch import Signal, receiver
from simple_history.models import HistoricalRecords

from accounts.models import RoleChange

User = get_user_model()

# Sent by `accounts.services.user_deactivate` inside its transaction, with
# `user` (now inactive) and `by` (the admin). Apps above accounts clean up what
# they own without accounts importing them: annotator releases the user's
# reservations, privacy ends their sessions and revokes their API token.
user_deactivated = Signal()


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
    actor = _actor()
    pairs = ([(u, instance) for u in User.objects.filter(pk__in=pk_set)] if reverse
             else [(instance, g) for g in Group.objects.filter(pk__in=pk_set)])
    rows = []
    for user, group in pairs:
        after = _names(user)
        before = sorted(set(after) - {group.name}) if granted else sorted(set(after) | {group.name})
        rows.append(RoleChange(
            user=user, role=group.name, action=RoleChange.Action.GRANTED if granted else RoleChange.Action.REVOKED,
            roles_before=before, roles_after=after, changed_by=actor,
        ))
    RoleChange.objects.bulk_create(rows)
