"""Timed keyboard-only walkthrough of the review and adjudication pages in Chromium.

    .venv/bin/python bench/bench_walkthrough.py [--reports 7] [--port N]

Seeds a temporary SQLite database with demo reports (rule labels from the rule
labeler, an active model whose gate lets it contest the rules, disagreeing on
Fracture in reader 3's reports), starts `manage.py runserver` on it, and drives Debian's Chromium through
Playwright with the keyboard only, as fast as it can (no thinking time: this
measures the interface, page loads and round trips, not a radiologist):

- accept-all: submit the pre-filled read (Ctrl+Enter);
- change-two-labels: `o p e 2`, `o e d 1`, Ctrl+Enter;
- resolve-a-contested-row: `c` to the contested row (rules and model disagree, not pre-filled), a value key, Ctrl+Enter;
- adjudicate-a-disagreement: on the adjudication page, `c` to each conflicting row and `a` (Reader A's
  value) there, Ctrl+Enter (the reports readers 1 and 2 disagreed on, usually on two rows).

Each report's time runs from its page being ready to the next page being ready
(the submit, the redirect and the next page's load included). Prints and saves
bench/results/walkthrough.json with the median seconds and keys per report, and
each scenario's median as a ratio to accept-all's, measured in the same run: the
one-key read is the floor (a submit and the next page), so the ratio is what the
scenario's keys add on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import REPO_ROOT, RESULTS_DIR, machine_info, setup_django  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "walkthrough-horse-42"


def seed(n_reports: int) -> None:
    """3n demo reports with rule labels and an active model's labels, equal to the
    rules' except Fracture on reader 3's reports, a contested row there."""
    from accounts.roles import Role
    from accounts.services import user_create_or_update
    from labeling.models import MachinePrediction, ModelVersion, Report, RuntimeSettings
    from labeling.report_files import text_sha256
    from labeling.routing import GATE_STATUS_RULES_AGREEMENT
    from labeling.rules import label_report
    from labeling.selectors import runtime_settings_get
    from labeling.services.report_import import _sections_for_storage

    row = runtime_settings_get()
    row.reads_per_report, row.queue_order, row.auto_gold = 2, RuntimeSettings.QueueOrder.SEQUENTIAL, True
    row.save()
    for name, role in (("reader1", Role.READER), ("reader2", Role.READER), ("reader3", Role.READER),
                       ("adjudicator", Role.ADJUDICATOR)):
        user_create_or_update(username=name, password=PASSWORD, roles=[role])
    with open(REPO_ROOT / "demo" / "reports.csv", newline="", encoding="utf-8") as fh:
        texts = [r["Reports"] for r in csv.DictReader(fh)][: 3 * n_reports]
    # A gate that lets the model contest the rules (labeling.routing): where they disagree the row is contested.
    model = ModelVersion.objects.create(name="walkthrough", checkpoint_path="/models/walkthrough", is_active=True,
                                        gate={"status": GATE_STATUS_RULES_AGREEMENT})
    for i, text in enumerate(texts):
        report = Report.objects.create(external_id=f"WALK-{i:04d}", text=text, text_sha256=text_sha256(text),
                                       sections=_sections_for_storage(text))
        rules = label_report(text)
        MachinePrediction.objects.create(report=report, source="rules", source_version=rules.rules_version,
                                         labels=rules.labels, evidence=rules.evidence_as_json())
        flipped = dict(rules.labels)
        if i > n_reports:  # reader 3's reports (readers 1 and 2 read and reserve the first n + 1)
            flipped["Fracture"] = "blank" if flipped["Fracture"] == "positive" else "positive"
        MachinePrediction.objects.create(report=report, source="model", source_version=model.name, model_version=model,
                                         labels=flipped)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_server(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)  # noqa: S310 - local server
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("runserver did not start")


class Walker:
    """One signed-in browser page that counts the keys it presses."""

    def __init__(self, browser: Any, base: str, username: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.set_default_timeout(20_000)
        self.keys = 0
        self.page.goto(f"{base}/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_label("Password").press("Enter")
        self.page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.keys += 1

    def ready(self) -> None:
        self.page.locator("body[data-keyboard-ready]").wait_for(state="attached")

    def submit(self) -> None:
        """Ctrl+Enter; a second one when the consistency checks warn."""
        url = self.page.url
        self.press("Control+Enter")
        self.page.wait_for_url(lambda u: u != url, timeout=20_000)
        self.page.wait_for_load_state()
        if self.page.locator("#warnings").count():
            self.ready()
            url = self.page.url
            self.press("Control+Enter")
            self.page.wait_for_url(lambda u: u != url, timeout=20_000)
            self.page.wait_for_load_state()


def walk(walker: Walker, n: int, steps: list[str] | None, next_key: str | None = "n") -> dict[str, float]:
    """Read n reports with `steps` then submit; per report seconds and keys.
    steps None: `c` then `a` (Reader A's value) on every conflicting row."""
    seconds, keys = [], []
    if next_key:
        walker.page.get_by_role("button", name="Next report").wait_for()
        walker.press(next_key)
    walker.ready()
    for _ in range(n):
        t0, k0 = time.perf_counter(), walker.keys
        walker.press(*(steps if steps is not None else ["c", "a"] * walker.page.locator("tr.conflict").count()))
        walker.submit()
        if re.search(r"/(review|adjudicate)/\d+/$", walker.page.url):
            walker.ready()
        seconds.append(time.perf_counter() - t0)
        keys.append(walker.keys - k0)
    return {"reports": n, "median_seconds": round(statistics.median(seconds), 3), "min_seconds": round(min(seconds), 3),
            "max_seconds": round(max(seconds), 3), "median_keys": statistics.median(keys)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=7, help="reports per scenario")
    parser.add_argument("--port", type=int, default=0, help="port for runserver (default: any free one)")
    args = parser.parse_args()
    n = args.reports
    var_dir = setup_django()
    seed(n)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CHEXGOLD_VAR_DIR": str(var_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
                              cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, Any] = {}
    try:
        wait_for_server(base)
        from playwright.sync_api import sync_playwright

        # The ORM checks below run inside sync Playwright's event loop (as in tests/conftest.py).
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Readers 1 and 2 read the same n reports (k = 2) and disagree on two rows:
            # those n reports then wait for adjudication.
            results["accept-all"] = walk(Walker(browser, base, "reader1"), n, [])
            results["change-two-labels"] = walk(Walker(browser, base, "reader2"), n, ["o", "p", "e", "2", "o", "e", "d", "1"])
            # Reader 3 gets the next n reports; Fracture is contested on each (no pre-filled value).
            results["resolve-a-contested-row"] = walk(Walker(browser, base, "reader3"), n, ["c", "2"])
            from django.contrib.auth import get_user_model

            from annotator.selectors import adjudication_queue

            waiting = len(adjudication_queue(adjudicator=get_user_model().objects.get(username="adjudicator")))
            adjudicator = Walker(browser, base, "adjudicator")
            adjudicator.page.get_by_role("link", name=re.compile("WALK-")).first.click()
            results["adjudicate-a-disagreement"] = walk(adjudicator, min(n, waiting), None, next_key=None)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    from labeling.models import Annotation, GoldLabel

    floor = results["accept-all"]["median_seconds"]
    out = {
        "benchmark": "walkthrough",
        "command": " ".join([".venv/bin/python bench/bench_walkthrough.py", *sys.argv[1:]]),
        "what": "keyboard-only walkthrough in Chromium against manage.py runserver (SQLite), no thinking time;"
                " seconds per report from page ready to the next page ready",
        "scenarios": results,
        # The baseline is accept-all of this same run (a submit and the next page, one key).
        "median_ratio_to_accept_all": {name: round(r["median_seconds"] / floor, 2) for name, r in results.items()},
        # Checks that the keys did what they say: `c` landed on the contested Fracture row.
        "contested_rows_resolved": Annotation.objects.filter(reader__username="reader3", status="submitted",
                                                             labels__Fracture="negative").count(),
        "gold_after_adjudication": GoldLabel.objects.filter(method="adjudicated", is_current=True).count(),
        "machine": machine_info(),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(out, indent=2))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "walkthrough.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
