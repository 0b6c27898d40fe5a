"""Demo users and data: one definition used by `seed_demo`, `run_demo` and README."""

from __future__ import annotations

from pathlib import Path

from accounts.roles import Role

DEMO_REPORTS = Path(__file__).resolve().parent.parent / "demo" / "reports.csv"

# (username, password, roles). Local demo only; README lists them.
DEMO_USERS: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("admin", "chexgold-admin", (Role.ADMIN,)),
    ("reader1", "chexgold-reader1", (Role.READER,)),
    ("reader2", "chexgold-reader2", (Role.READER,)),
    ("reader3", "chexgold-reader3", (Role.READER,)),
    ("adjudicator", "chexgold-adjudicator", (Role.ADJUDICATOR,)),
)
