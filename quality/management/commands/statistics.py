from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from quality.metrics import MAPPINGS
from quality.statistics import (
    CURRENT_GOLD,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    SPLITS,
    StatisticsQueryInvalid,
    Table,
    statistics_for_user,
    statistics_get,
    statistics_tables,
)


def _cell(kind: str, value: object) -> str:
    if kind == "interval":
        v = value  # type: ignore[assignment]
        if v["value"] is None:  # type: ignore[index]
            return "-"
        if v["low"] is None:  # type: ignore[index]
            return f"{v['value']:.3f}"  # type: ignore[index]
        return f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"  # type: ignore[index]
    return str(value)


def format_table(table: Table) -> str:
    """Plain-text rendering of a statistics table (columns padded to width)."""
    head = [c.name for c in table.columns]
    body = [[_cell(c.kind, v) for c, v in zip(table.columns, row, strict=True)] for row in table.rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [f"== {table.title}" + (f" ({table.caption})" if table.caption else ""), line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    return "\n".join(out)


class Command(BaseCommand):
    help = (
        "Agreement between readers and accuracy of readers and labelers against gold, per observation, with 95% "
        "bootstrap intervals (the figures of the statistics page, all readers named). Uses the statistics cache."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mapping", choices=list(MAPPINGS), default="full",
                            help="full 4-way labels, or collapsed: u-ones (uncertain=positive), u-zeros (uncertain=negative)")
        parser.add_argument("--gold-version", default=CURRENT_GOLD, help="a frozen gold-set version's name (default: the current gold set)")
        parser.add_argument("--split", choices=list(SPLITS), default="all")
        parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed")
        parser.add_argument("--json", action="store_true", help="print the JSON the API returns (unfiltered)")
        parser.add_argument("--as-user", metavar="USERNAME",
                            help="the figures as this user is shown them (role filter; reports whose gold is not released "
                                 "to them left out); --resamples and --seed are then the page's")

    def handle(self, *args: object, **options: object) -> None:
        try:
            if options["as_user"]:
                user = get_user_model().objects.filter(username=str(options["as_user"])).first()
                if user is None:
                    raise CommandError(f"no such user: {options['as_user']!r}")
                stats = statistics_for_user(user=user, mapping=str(options["mapping"]), gold_version=str(options["gold_version"]),
                                            split=str(options["split"]))
            else:
                stats = statistics_get(
                    mapping=str(options["mapping"]), gold_version=str(options["gold_version"]), split=str(options["split"]),
                    n_resamples=int(options["resamples"]), seed=int(options["seed"]),  # type: ignore[call-overload]
                )
        except StatisticsQueryInvalid as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        q, c = stats["query"], stats["counts"]
        self.stdout.write(
            f"Gold: {q['gold_version']}, split {q['split']}, labels {stats['mapping']['title']}; {c['gold_reports']} gold reports, "
            + (f"{c['reads']} reads of {c['read_reports']} reports by {c['readers']} readers; " if "reads" in c else "")
            + "95% bootstrap intervals "
            f"({q['n_resamples']} resamples, seed {q['seed']}); computed in {stats['compute_seconds']} s"
            + (" (cached)" if stats["from_cache"] else "")
        )
        for table in statistics_tables(stats=stats):
            if table.slug in ("confusion", "labeler-detail"):
                continue  # long; in --json and the CSV downloads
            self.stdout.write("\n" + format_table(table))
