"""The gold exports, byte for byte as before the streaming rewrite.

`gold_label_set_export` now reads plain rows (no model instances) and writes
CSV lines in batches; this test keeps the former implementation (model
instances, `prefetch_related`, one `csv.writer` call per row, `LabelValue` per
cell) as the reference and compares every byte and every chunk of both
formats, under several uncertainty policies, for the current gold set and a
frozen version, on a gold set with every kind of provenance.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest

from labeling import chexpert_csv
from labeling.models import GoldLabel, GoldSetMembership, GoldSetVersion, LabelImport
from labeling.observations import OBSERVATION_NAMES, LabelValue
from labeling.selectors import gold_labels_for_export
from labeling.services.exports import gold_label_set_export
from labeling.uncertainty import UncertaintyPolicy, uncertainty_policy_parse
from tests.factories import AnnotationFactory, GoldLabelFactory, ReportFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

POLICIES = ("as-is", "positive", "negative,Atelectasis=positive", "hedged-absent")
VALUES = ("positive", "negative", "uncertain", "blank")
TEXTS = (
    "Heart size normal, lungs clear.",
    'Left "pleural" effusion,\npossible edema.',
    "  leading and trailing spaces  ",
    "Carriage\r\nreturn and tab\there; unicode × µ é 中文 and an emoji \U0001f600",
    "Quote at the end\"",
    "",
)


# --- the reference: the export as it was (commit b2bf0ec) ------------------------------------
def reference_export(fmt: str, gold_version: GoldSetVersion | None, policy: UncertaintyPolicy) -> list[str]:
    labels = gold_labels_for_export(gold_version=gold_version)
    if fmt == "csv":
        rows = labels.values_list("report__text", "report__external_id", "labels")

        def generate() -> Iterator[list[str]]:
            yield chexpert_csv.header(has_ids=True)
            for text, external_id, values in rows:
                cells = policy.apply(values)
                yield [text, external_id] + [LabelValue(cells[name]).chexpert for name in OBSERVATION_NAMES]

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        out = []
        for row in generate():
            writer.writerow(row)
            out.append(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
        return out
    version_name = gold_version.name if gold_version else None
    queryset = labels.select_related("label_import__created_by").prefetch_related("annotations__reader")
    return [json.dumps(_reference_provenance(gold, version_name, policy), ensure_ascii=False) + "\n" for gold in queryset]


def _reference_provenance(gold: GoldLabel, version_name: str | None, policy: UncertaintyPolicy) -> dict[str, object]:
    annotations = list(gold.annotations.all())
    values = policy.apply(gold.labels)
    imported = gold.label_import
    return {
        "id": gold.report.external_id,
        "text": gold.report.text,
        "labels": {name: LabelValue(values[name]).numeric for name in OBSERVATION_NAMES},
        "provenance": {
            "gold_label_id": gold.id,
            "method": gold.method,
            "readers": sorted(a.reader.get_username() for a in annotations),
            "reads": [
                {"reader": a.reader.get_username(), "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None}
                for a in sorted(annotations, key=lambda a: a.reader.get_username())
            ],
            "adjudicator": gold.adjudicator.get_username() if gold.adjudicator else None,
            "rationale": gold.rationale,
            "created_at": gold.created_at.isoformat(),
            "supersedes": gold.supersedes_id,
            "gold_set_version": version_name,
            "import": None if imported is None else {
                "label_import_id": imported.id, "filename": imported.filename, "zero_means": imported.zero_means,
                "by": imported.created_by.get_username() if imported.created_by else None,
                "at": imported.created_at.isoformat(),
            },
            "uncertainty_policy": policy.spec,
        },
    }


# --- a gold set with every kind of row -------------------------------------------------------
@pytest.fixture
def gold_set() -> GoldSetVersion:
    readers = [UserFactory(username=name) for name in ("zoe", "amir", "li", "bea")]
    admin = UserFactory(username="dr_adj")
    imports = [
        LabelImport.objects.create(filename="prior.csv", kind=LabelImport.Kind.GOLD, created_by=admin, zero_means="blank"),
        LabelImport.objects.create(filename="other.csv", kind=LabelImport.Kind.GOLD, created_by=None),
    ]
    version = GoldSetVersion.objects.create(name="2026-q4")
    when = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)
    for i in range(60):
        text = TEXTS[i % len(TEXTS)] or f"Report {i}."
        report = ReportFactory(external_id=f"R{i:03d},x" if i % 7 == 0 else f"R{i:03d}", text=f"{text} ({i})",
                               is_flagged=i % 17 == 5, is_withdrawn=i % 19 == 6)
        values = {name: VALUES[(i * 7 + j * 3) % 4] for j, name in enumerate(OBSERVATION_NAMES)}
        method = ("agreement", "adjudicated", "imported")[i % 3]
        kwargs: dict[str, object] = {}
        if method == "adjudicated":
            kwargs = {"adjudicator": admin, "rationale": f"Edema equivocal; \"quoted\" é {i}"}
        if method == "imported":
            kwargs = {"label_import": imports[i % 2]}
        gold = GoldLabelFactory(report=report, labels=values, method=method, **kwargs)
        for k, reader in enumerate(readers[: i % 4]):
            annotation = AnnotationFactory(report=report, reader=reader, labels=values,
                                           submitted_at=None if (i + k) % 5 == 0 else when + dt.timedelta(minutes=i + k))
            gold.annotations.add(annotation)
        if i % 2 == 0:
            GoldSetMembership.objects.create(version=version, report=report, gold_label=gold)
        if i % 11 == 3:  # a correction: the new row is current, the frozen version keeps the old one
            gold.is_current = False
            gold.save()
            GoldLabelFactory(report=report, labels={**values, "Edema": "uncertain"}, method="adjudicated",
                             adjudicator=admin, supersedes=gold)
    return version


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("spec", POLICIES)
@pytest.mark.parametrize("frozen", [False, True])
def test_export_is_byte_identical_to_the_former_export(gold_set: GoldSetVersion, fmt: str, spec: str, frozen: bool) -> None:
    policy = uncertainty_policy_parse(spec)
    version = gold_set if frozen else None
    expected = reference_export(fmt, version, policy)
    assert len(expected) > 20
    chunks = list(gold_label_set_export(fmt=fmt, gold_version=version, policy=policy))
    assert "".join(chunks) == "".join(expected)
    assert chunks == expected  # one chunk per line: `export_gold` counts rows by chunks


def test_csv_line_is_what_the_csv_module_writes() -> None:
    import random

    from labeling.report_files import csv_line

    rng = random.Random(19)
    alphabet = [",", '"', "\n", "\r", " ", "\t", "a", "Z", "0", "é", "中", "\u2028", "\x85", "\x1c", "'", ";", "\\"]
    rows = [[""], [], ["", ""], [" "], ['"'], [","]] + [
        ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 4))]
        for _ in range(5000)
    ]
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        assert csv_line(row) == buffer.getvalue(), row
