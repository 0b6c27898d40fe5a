"""The text progress line of long foreground commands (labeling.management.progress)."""

from __future__ import annotations

import io

from labeling.management.progress import CountProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_few_seconds_and_always_the_last_one() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = CountProgress("rule labels", stream, clock=clock)
    progress(0, 200_000)
    clock.now = 1.0
    progress(500, 200_000)  # too soon after the first line
    clock.now = 11.0
    progress(12_000, 200_000)
    clock.now = 11.5
    progress(200_000, 200_000)  # the last one, however soon
    assert stream.getvalue().splitlines() == [
        "rule labels: 0/200,000 (0%)",
        "rule labels: 12,000/200,000 (6%)",
        "rule labels: 200,000/200,000 (100%)",
    ]


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream, clock = Terminal(), Clock()
    progress = CountProgress("rule labels", stream, clock=clock)
    progress(0, 1000)
    clock.now = 1.0
    progress(500, 1000)
    progress(1000, 1000)
    assert stream.getvalue() == "\rrule labels: 0/1,000 (0%)\rrule labels: 500/1,000 (50%)\rrule labels: 1,000/1,000 (100%)\n"
