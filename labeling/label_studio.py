"""Label Studio interop: its JSON export in, our reports and machine labels out.

Plain Python, no Django. Label Studio's JSON export is a list of tasks::

    [{"id": 1, "data": {"text": "...", "id": "study-1"},
      "annotations": [{"completed_by": 3 | {"email": ...} | "alice",
                       "result": [{"from_name": "Atelectasis", "to_name": "text", "type": "choices",
                                   "value": {"choices": ["Positive"]}}, ...]}],
      "predictions": [{"model_version": "rules-1", "result": [...]}]}]

One choices control per observation (``from_name`` the observation's name, spaces
or underscores, any case), its choice Positive / Negative / Uncertain (or 1 / 0 /
-1); an observation without a result is blank. A task names its report by
``data.id`` (also ``study_id``, ``external_id``, ``report_id``) or else by its
exact ``data.text``.

`label_studio_file_read` turns such a file into the `LabelFile` the label import
validates (`annotator.services.label_import`): "line" is the task's 1-based index
in the list, so every error says which task is bad. Which results are read:

- gold: the task's annotations (all of them must agree; a task with none is skipped);
- reads: the annotations whose ``completed_by`` names the reader (id, email, username);
- predictions: the task's predictions (all must agree; ``model_version`` is not checked).

`label_studio_tasks` and `label_studio_config` write the other direction: tasks
with our machine labels as predictions, and the labeling config they fit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from labeling.label_files import KEY_ID, KEY_TEXT, LabelFile, LabelRow
from labeling.observations import OBSERVATION_NAMES, LabelDict, LabelValue, blank_labels
from labeling.report_files import RowError

FORMAT = "label-studio"
TO_NAME = "text"
_ID_KEYS = ("id", "study_id", "external_id", "report_id")
_TEXT_KEYS = ("text", "report", "Reports")
_CHOICE = {LabelValue.POSITIVE: "Positive", LabelValue.NEGATIVE: "Negative", LabelValue.UNCERTAIN: "Uncertain"}
_FROM_CHOICE = {
    "positive": LabelValue.POSITIVE, "negative": LabelValue.NEGATIVE, "uncertain": LabelValue.UNCERTAIN,
    "1": LabelValue.POSITIVE, "0": LabelValue.NEGATIVE, "-1": LabelValue.UNCERTAIN,
}
_OBSERVATION_BY_KEY = {n.lower().replace(" ", "_"): n for n in OBSERVATION_NAMES}


def control_name(observation: str) -> str:
    """The choices control's name for an observation (Label Studio names have no spaces)."""
    return observation.replace(" ", "_")


def label_studio_config() -> str:
    """The labeling config XML that fits our tasks: the report text and one
    single-choice control per observation, in CheXpert column order."""
    lines = ["<View>", f'  <Text name="{TO_NAME}" value="$text"/>']
    for name in OBSERVATION_NAMES:
        lines.append(f"  <Header value={quoteattr(name)}/>")
        lines.append(f'  <Choices name="{control_name(name)}" toName="{TO_NAME}" choice="single" showInline="true">')
        lines.extend(f'    <Choice value="{choice}"/>' for choice in _CHOICE.values())
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def result_of_labels(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Label Studio results for a label dict (blank observations have none)."""
    out: list[dict[str, Any]] = []
    for name in OBSERVATION_NAMES:
        value = LabelValue(labels.get(name) or LabelValue.BLANK.value)
        if value is LabelValue.BLANK:
            continue
        out.append({"from_name": control_name(name), "to_name": TO_NAME, "type": "choices", "value": {"choices": [_CHOICE[value]]}})
    return out


def label_studio_task(*, external_id: str, text: str, predictions: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, Any]:
    """One task: the report (``data.id``, ``data.text``) and one prediction per (model_version, labels)."""
    return {
        "data": {"id": external_id, "text": text},
        "predictions": [{"model_version": version, "result": result_of_labels(labels)} for version, labels in predictions],
    }


def labels_of_result(result: object, *, where: str) -> tuple[LabelDict, list[str]]:
    """The label dict of one annotation's or prediction's result, and its problems."""
    labels = blank_labels()
    problems: list[str] = []
    if not isinstance(result, list):
        return labels, [f"{where}: result is not a list"]
    seen: set[str] = set()
    for item in result:
        if not isinstance(item, dict) or item.get("type") != "choices":
            continue  # other controls (text areas, ratings) carry no labels
        key = str(item.get("from_name", "")).strip().lower().replace(" ", "_")
        name = _OBSERVATION_BY_KEY.get(key)
        if name is None:
            problems.append(f"{where}: unknown observation {item.get('from_name')!r}")
            continue
        value = item.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(choices, list) or len(choices) != 1:
            problems.append(f"{where}: {name} needs exactly one choice")
            continue
        parsed = _FROM_CHOICE.get(str(choices[0]).strip().lower())
        if parsed is None:
            problems.append(f"{where}: {name}: not a label: {choices[0]!r} (Positive, Negative or Uncertain)")
            continue
        if name in seen:
            problems.append(f"{where}: {name} twice")
            continue
        seen.add(name)
        labels[name] = parsed.value
    return labels, problems


def _completed_by_names(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(value[k]) for k in ("id", "email", "username") if value.get(k) not in (None, "")}
    if value in (None, ""):
        return set()
    return {str(value)}


def _task_key(data: Mapping[str, object]) -> tuple[str, str, str] | None:
    for key in _ID_KEYS:
        if data.get(key) not in (None, ""):
            return KEY_ID, str(data[key]).strip(), f"data.{key}"
    for key in _TEXT_KEYS:
        if isinstance(data.get(key), str) and str(data[key]).strip():
            return KEY_TEXT, str(data[key]), f"data.{key}"
    return None


def label_studio_file_read(path: str | os.PathLike[str], *, kind: str, reader: str = "", zero_means: str = "negative") -> LabelFile:
    """Read a Label Studio JSON export as a `LabelFile` (see the module docstring).

    `kind` is "gold", "reads" (annotations completed by `reader`) or
    "predictions". Errors are collected with the task's 1-based index as line."""
    result = LabelFile(format=FORMAT)
    try:
        with open(path, "rb") as fh:
            tasks = json.loads(fh.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        result.errors.append(RowError(0, f"not a Label Studio JSON export: {exc}"))
        return result
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        result.errors.append(RowError(0, "not a Label Studio JSON export: expected a list of tasks"))
        return result
    seen: dict[tuple[str, str], LabelRow] = {}
    for index, task in enumerate(tasks, start=1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            result.errors.append(RowError(index, "a task needs a data object", "data"))
            continue
        key = _task_key(task["data"])
        if key is None:
            result.errors.append(RowError(index, "the task's data has no report id or text", "data"))
            continue
        field = "predictions" if kind == "predictions" else "annotations"
        entries = task.get(field) or []
        if not isinstance(entries, list):
            result.errors.append(RowError(index, f"{field} is not a list", field))
            continue
        if kind == "reads":
            entries = [e for e in entries if isinstance(e, dict) and reader in _completed_by_names(e.get("completed_by"))]
        entries = [e for e in entries if isinstance(e, dict) and not e.get("was_cancelled")]
        if not entries:
            continue  # nothing for this kind in this task
        found: list[LabelDict] = []
        problems: list[str] = []
        for number, entry in enumerate(entries, start=1):
            labels, bad = labels_of_result(entry.get("result"), where=f"{field}[{number}]")
            problems.extend(bad)
            found.append(labels)
        if problems:
            result.errors.extend(RowError(index, p, field) for p in problems)
            continue
        if any(labels != found[0] for labels in found[1:]):
            result.errors.append(RowError(index, f"the task's {len(found)} {field} disagree: import them as reads of each annotator", field))
            continue
        labels = found[0]
        if zero_means == "blank":
            labels = {n: (LabelValue.BLANK.value if v == LabelValue.NEGATIVE.value else v) for n, v in labels.items()}
        result.values_seen.update(v for v in labels.values() if v != LabelValue.BLANK.value)
        row = LabelRow(index, key[0], key[1], key[2], labels)
        first = seen.get((row.key_kind, row.key))
        if first is None:
            seen[(row.key_kind, row.key)] = row
            result.rows.append(row)
        elif first.labels != row.labels:
            result.errors.append(RowError(index, f"the same report as task {first.line} with other labels", key[2]))
    if not result.errors and not result.rows:
        what = {"reads": f"annotations completed by {reader!r}", "predictions": "predictions"}.get(kind, "annotations")
        result.errors.append(RowError(0, f"the file holds no {what}"))
    result.errors.sort(key=lambda e: e.line)
    return result
