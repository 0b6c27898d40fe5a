"""A text progress line for long foreground work in management commands.

Shared by `import_reports` and `train_model` (both rule-label reports in the
foreground). On a terminal the line is redrawn in place; written to a file or a
pipe it becomes a line every few seconds, so logs stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

TERMINAL_INTERVAL_S = 0.5
LOG_INTERVAL_S = 10.0


class CountProgress:
    """`progress(done, total)` callback that writes "what: 12,000/200,000 (6%)".

    `stream` is a command's `self.stderr` (Django's OutputWrapper) or any text
    stream. The last call (done == total) always writes and ends the line.
    """

    def __init__(self, what: str, stream: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.stream = stream
        self.clock = clock
        isatty = getattr(stream, "isatty", None)
        self.in_place = bool(isatty and isatty())
        self.last_write: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        final = done >= total
        interval = TERMINAL_INTERVAL_S if self.in_place else LOG_INTERVAL_S
        if not final and self.last_write is not None and now - self.last_write < interval:
            return
        self.last_write = now
        percent = f" ({100 * done // total}%)" if total else ""
        line = f"{self.what}: {done:,}/{total:,}{percent}"
        if self.in_place:
            self._write(f"\r{line}" + ("\n" if final else ""))
        else:
            self._write(line + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text, ending="")  # Django's OutputWrapper adds a newline otherwise
        except TypeError:
            self.stream.write(text)
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()
