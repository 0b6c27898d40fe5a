"""Roles are Django groups; a user may hold several. One definition here."""

from __future__ import annotations

import enum


class Role(str, enum.Enum):
    READER = "reader"  # radiologist who reads reports
    ADJUDICATOR = "adjudicator"  # resolves disagreements into gold
    ADMIN = "admin"  # imports, training, models, gold versions, users

    @property
    def group_name(self) -> str:
        return self.value


ROLES: tuple[Role, ...] = tuple(Role)
