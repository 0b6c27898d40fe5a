from __future__ import annotations

from annotator.selectors import evidence_for_js
from annotator.text_offsets import utf16_length, utf16_offset_converter


def js_slice(text: str, start: int, end: int) -> str:
    """What JavaScript's text.slice(start, end) returns."""
    return text.encode("utf-16-le")[start * 2 : end * 2].decode("utf-16-le")


def test_bmp_text_is_unchanged():
    convert = utf16_offset_converter("Heart size normal. é ü")
    assert [convert(i) for i in (0, 5, 22)] == [0, 5, 22]


def test_astral_character_before_span_shifts_by_one():
    text = "🫁 Small left pleural effusion 😀 and edema."
    start = text.index("pleural effusion")
    convert = utf16_offset_converter(text)
    assert convert(start) == start + 1
    assert js_slice(text, convert(start), convert(start + len("pleural effusion"))) == "pleural effusion"
    e = text.index("edema")
    assert convert(e) == e + 2 and js_slice(text, convert(e), convert(e + 5)) == "edema"
    assert convert(len(text)) == utf16_length(text) and convert(10**6) == utf16_length(text)


def test_evidence_offsets_converted_for_js():
    text = "𝐅INDINGS: small effusion"
    start = text.index("effusion")
    span = {"start": start, "end": start + 8, "sentence_start": 0, "sentence_end": len(text), "phrase": "effusion",
            "cue": None, "cue_start": None, "cue_end": None}
    (converted,) = evidence_for_js(text=text, evidence={"Pleural Effusion": [span]})["Pleural Effusion"]
    assert js_slice(text, converted["start"], converted["end"]) == "effusion"
    assert converted["sentence_end"] == utf16_length(text) and converted["cue_start"] is None
