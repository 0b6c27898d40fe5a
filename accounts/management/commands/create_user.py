from __future__ import annotations

from typing import cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import WeakPassword
from accounts.roles import Role
from accounts.services import user_create_or_update


class Command(BaseCommand):
    help = "Create a user with a role, or add the role to an existing user and set the password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, action="append", choices=[r.value for r in Role])
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")

    def handle(self, *args: object, **options: object) -> None:
        roles = [Role(r) for r in cast(list[str], options["role"])]  # action="append", required
        try:
            user, created = user_create_or_update(
                username=str(options["username"]), password=str(options["password"]), roles=roles, email=str(options["email"])
            )
        except WeakPassword as exc:  # Django's password validators (AUTH_PASSWORD_VALIDATORS)
            raise CommandError(f"Password refused: {exc}") from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} user {user.username} with role(s) {', '.join(r.value for r in roles)}")
