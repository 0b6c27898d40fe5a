"""Writes of users, roles and accounts. Role changes are audited by
`accounts.signals`; deactivations and passwords set here by `AccountChange`.

Every password set through the app (API, admin users page, `create_user`, the
own-password page) passes Django's password validators here; only the demo
seed skips them (`demo_user=True`). No change may leave the site without an
active admin (`LastAdmin`), and an admin removing their own admin role must
confirm it (`ConfirmationRequired`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.errors import AccountNameInvalid, AccountNotReader, ConfirmationRequired, LastAdmin, WeakPassword
from accounts.models import AccountChange
from accounts.roles import Role
from accounts.selectors import active_admin_ids, user_roles
from accounts.signals import password_set, user_deactivated
from api.request_memo import forgets


def password_check(*, password: str, user: User) -> None:
    """Raise `WeakPassword` listing every complaint of AUTH_PASSWORD_VALIDATORS
    (`user` may be unsaved: the similarity check reads its username and email)."""
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise WeakPassword(" ".join(exc.messages)) from exc


@forgets("roles")
@transaction.atomic
def user_create_or_update(
    *, username: str, password: str, roles: list[Role], email: str = "", demo_user: bool = False
) -> tuple[User, bool]:
    """Create a user, or add `roles` to an existing one and set its password.

    Returns (user, created). Staff status follows the admin role so admins can
    use Django's admin site. The password must pass the validators
    (`WeakPassword` otherwise, and nothing is written) unless `demo_user` is
    set: only the demo seed does that, for its documented weak passwords.
    """
    User = get_user_model()
    if not demo_user:
        existing = User.objects.filter(username=username).first()
        password_check(password=password, user=existing or User(username=username, email=email))
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    if Role.ADMIN in roles:
        user.is_staff = True
    user.save()
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role.group_name)
        user.groups.add(group)
    return user, created


def reader_account_check(*, username: str) -> User | None:
    """The existing account named `username`, or None when there is none yet.
    Raises AccountNameInvalid for a name Django would refuse, and AccountNotReader
    for an existing account without the reader role (an import must not grant a
    role by a typo in a name: give the role on the Users page first)."""
    User = get_user_model()
    name = (username or "").strip()
    try:
        if not name or len(name) > 150:
            raise ValidationError("Give a username of 1 to 150 characters.")
        User.username_validator(name)
    except ValidationError as exc:
        raise AccountNameInvalid(f"{name!r} is not a valid username: {' '.join(exc.messages)}") from exc
    user = User.objects.filter(username=name).first()
    if user is not None and Role.READER not in user_roles(user=user):
        raise AccountNotReader(f"The account {name!r} exists but is not a reader; give it the reader role first.")
    return user


@forgets("roles")
@transaction.atomic
def reader_account_get_or_create(*, username: str) -> tuple[User, bool]:
    """The reader account named `username`, created when missing: reader role,
    no usable password (nobody signs in as it until an admin sets one), so reads
    imported from a file (`annotator.services.label_import`) have an owner.
    Returns (user, created); raises as `reader_account_check`."""
    user = reader_account_check(username=username)
    if user is not None:
        return user, False
    user = get_user_model()(username=username.strip())
    user.set_unusable_password()
    user.save()
    group, _ = Group.objects.get_or_create(name=Role.READER.group_name)
    user.groups.add(group)
    return user, True


@forgets("roles")
@transaction.atomic
def user_role_add(*, user: AbstractBaseUser, role: Role) -> None:
    group, _ = Group.objects.get_or_create(name=role.group_name)
    user.groups.add(group)  # type: ignore[attr-defined]
    if role is Role.ADMIN and not getattr(user, "is_staff", False):
        get_user_model().objects.filter(pk=user.pk).update(is_staff=True)


@forgets("roles")
@transaction.atomic
def user_role_remove(*, user: AbstractBaseUser, role: Role, by: User | None = None, confirmed: bool = False) -> None:
    """Take `role` from `user`. Refused with `LastAdmin` when it is the admin
    role of the last active admin, and with `ConfirmationRequired` when `by`
    removes their own admin role without `confirmed`."""
    group = Group.objects.filter(name=role.group_name).first()
    if group is None:
        return
    # A superuser stays an admin without the group (`accounts.selectors.user_roles`).
    loses_admin = role is Role.ADMIN and not getattr(user, "is_superuser", False)
    if loses_admin and user.groups.filter(pk=group.pk).exists():  # type: ignore[attr-defined]
        _admins_lock()
        if active_admin_ids() == {user.pk}:
            raise LastAdmin("This is the last active admin; make another user admin first.")
        if by is not None and by.pk == user.pk and not confirmed:
            raise ConfirmationRequired("Removing your own admin role ends your admin access; confirm to go ahead.")
    user.groups.remove(group)  # type: ignore[attr-defined]


def _admins_lock() -> None:
    """Serialise changes that can remove an admin (two admins demoting each
    other at once must not leave none): a row lock on the admin group on
    PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers."""
    Group.objects.select_for_update().filter(name=Role.ADMIN.group_name).values_list("pk", flat=True).first()


@transaction.atomic
def user_deactivate(*, user: User, by: User | None) -> None:
    """Deactivate `user`: they can no longer sign in, and, in this transaction,
    `accounts.signals.user_deactivated` lets the apps above release what the user
    holds (annotator: live reservations; privacy: sessions and API token).
    Audited as an `AccountChange`. Refused with `LastAdmin` for the last active
    admin. Deactivating an inactive user changes nothing."""
    _admins_lock()
    User = get_user_model()
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return
    if active_admin_ids() == {user.pk}:
        raise LastAdmin("This is the last active admin; make another user admin first.")
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    AccountChange.objects.create(user=user, action=AccountChange.Action.DEACTIVATED, changed_by=by)
    user_deactivated.send(sender=User, user=user, by=by)


@transaction.atomic
def user_password_set(*, user: User, password: str, by: User | None) -> None:
    """Set `user`'s password after the validators (`WeakPassword`). Audited as
    a reset when `by` is someone else (an admin), as a change when it is the
    user. Changing the password ends the user's other sessions (Django's
    session hash); callers that keep the current session call
    `update_session_auth_hash`. `accounts.signals.password_set` lets privacy
    revoke the API token (and, after a reset by someone else, every session)."""
    password_check(password=password, user=user)
    user.set_password(password)
    user.save(update_fields=["password"])
    own = by is not None and by.pk == user.pk
    AccountChange.objects.create(
        user=user, action=AccountChange.Action.PASSWORD_CHANGED if own else AccountChange.Action.PASSWORD_RESET, changed_by=by
    )
    password_set.send(sender=type(user), user=user, by=by)
