"""Access checks for pages, in one place (API permissions reuse the same selectors)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.roles import Role
from accounts.selectors import user_roles


class AuthenticatedHttpRequest(HttpRequest):
    """For type checkers only: the request a view behind `role_required` or `login_required` gets
    (anonymous callers were sent to the login page, so `user` is the user model, never AnonymousUser)."""

    user: User


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def role_required(*roles: Role) -> Callable[[_View], _View]:
    """Page decorator: anonymous -> login page; logged in without any of `roles` -> 403."""

    def decorator(view: _View) -> _View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_roles(user=request.user) & set(roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(_View, wrapped)  # the view's own signature, as Django's login_required is typed

    return decorator
