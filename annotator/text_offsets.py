"""Python string offsets (code points) -> JavaScript string offsets (UTF-16 code units).

Pure. Evidence spans and section offsets are stored as Python `str` indices; in
the browser a character outside the Basic Multilingual Plane (emoji, some CJK)
takes two UTF-16 units, so every offset after one shifts by one.
"""

from __future__ import annotations

from collections.abc import Callable


def utf16_offset_converter(text: str) -> Callable[[int], int]:
    """A function mapping a code-point offset in `text` to its UTF-16 offset.

    Offsets may range over 0..len(text) inclusive; out-of-range offsets are clamped.
    """
    astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
    n = len(text)
    if not astral:
        return lambda offset: max(0, min(offset, n))

    def convert(offset: int) -> int:
        offset = max(0, min(offset, n))
        # astral chars strictly before `offset` each add one unit
        lo, hi = 0, len(astral)
        while lo < hi:
            mid = (lo + hi) // 2
            if astral[mid] < offset:
                lo = mid + 1
            else:
                hi = mid
        return offset + lo

    return convert


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
