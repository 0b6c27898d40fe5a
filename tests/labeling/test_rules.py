"""Behaviour of the rule labeler (labeling.rules), through its public API.

All report sentences here are written for these tests. Plain pytest, no Django.
"""

from __future__ import annotations

import json
import random

import pytest

from labeling.observations import OBSERVATION_NAMES, LabelValue
from labeling.rules import RULES_VERSION, ReportLabels, label_report, label_reports
from labeling.rules.aggregate import aggregate_values, no_finding_value
from labeling.rules.phrases import PhraseSyntaxError, compile_entry
from labeling.rules.text import lower_same_length, split_sentences

POS, NEG, UNC, BLANK = "positive", "negative", "uncertain", "blank"


def labels(text: str, section: str = "auto") -> dict[str, str]:
    return label_report(text, section).labels


def non_blank(text: str, section: str = "auto") -> dict[str, str]:
    return {k: v for k, v in labels(text, section).items() if v != BLANK}


# --------------------------------------------------------------------------- reference cases


def test_reference_normal_report() -> None:
    assert non_blank("Heart size normal and lungs are clear. No edema or pneumonia. No effusion") == {
        "No Finding": POS,
        "Cardiomegaly": NEG,
        "Edema": NEG,
        "Pneumonia": NEG,
        "Pleural Effusion": NEG,
    }


def test_reference_numbered_list() -> None:
    text = (
        "1. Left pleural effusion with adjacent atelectasis. Right effusion is also present. "
        "2. Cardiomegaly without overt edema."
    )
    assert non_blank(text) == {
        "Cardiomegaly": POS,
        "Edema": NEG,
        "Atelectasis": POS,
        "Pleural Effusion": POS,
    }


def test_reference_uncertain_after_comma() -> None:
    text = "Minimal patchy airspace disease within the lingula, may reflect atelectasis or consolidation."
    assert non_blank(text) == {"Lung Opacity": POS, "Consolidation": UNC, "Atelectasis": UNC}


def test_reference_hyperexpanded_blocks_no_finding() -> None:
    assert non_blank("1. Stable mild cardiomegaly. 2. Hyperexpanded but clear lungs.") == {"Cardiomegaly": POS}


# --------------------------------------------------------------------------- every observation


# (observation, positive sentence, negated sentence, uncertain sentence)
OBSERVATION_CASES = [
    ("Enlarged Cardiomediastinum", "The mediastinum is widened.", "The mediastinum is normal.",
     "Possible widening of the mediastinum."),
    ("Cardiomegaly", "The heart is enlarged.", "The heart is not enlarged.", "Possible cardiomegaly."),
    ("Lung Lesion", "A 2 cm nodule in the left upper lobe.", "No pulmonary nodules or masses.",
     "Findings suspicious for a mass."),
    ("Lung Opacity", "Patchy opacity at the right base.", "No focal opacity.",
     "Questionable opacity at the left base."),
    ("Edema", "Mild interstitial edema.", "No pulmonary edema.", "Findings may represent edema."),
    ("Consolidation", "Dense consolidation of the right lower lobe.", "No focal consolidation.",
     "Possible early consolidation."),
    ("Pneumonia", "Right lower lobe pneumonia.", "No evidence of pneumonia.",
     "Opacity concerning for pneumonia."),
    ("Atelectasis", "Bibasilar atelectasis.", "No atelectasis.", "Opacity likely atelectasis."),
    ("Pneumothorax", "Small apical pneumothorax on the left.", "No pneumothorax.",
     "Questionable tiny pneumothorax."),
    ("Pleural Effusion", "Small bilateral pleural effusions.", "No pleural effusion.",
     "Possible small left effusion."),
    ("Pleural Other", "Right apical pleural thickening.", "No pleural thickening.",
     "Possible pleural thickening."),
    ("Fracture", "Healed fracture of the left sixth rib.", "No acute fracture.",
     "Possible nondisplaced rib fracture."),
    ("Support Devices", "Endotracheal tube terminates 4 cm above the carina.",
     "The nasogastric tube has been removed.", "Possible retained catheter fragment."),
]


@pytest.mark.parametrize(("observation", "positive", "negated", "uncertain"), OBSERVATION_CASES)
def test_observation_positive(observation: str, positive: str, negated: str, uncertain: str) -> None:
    assert labels(positive)[observation] == POS


@pytest.mark.parametrize(("observation", "positive", "negated", "uncertain"), OBSERVATION_CASES)
def test_observation_negated(observation: str, positive: str, negated: str, uncertain: str) -> None:
    assert labels(negated)[observation] == NEG


@pytest.mark.parametrize(("observation", "positive", "negated", "uncertain"), OBSERVATION_CASES)
def test_observation_uncertain(observation: str, positive: str, negated: str, uncertain: str) -> None:
    assert labels(uncertain)[observation] == UNC


@pytest.mark.parametrize(
    ("text", "observation"),
    [
        ("PTX on the right.", "Pneumothorax"),
        ("ETT in good position.", "Support Devices"),
        ("NGT courses below the diaphragm.", "Support Devices"),
        ("Right PICC tip in the SVC.", "Support Devices"),
        ("Left chest pacemaker with leads in the right atrium and ventricle.", "Support Devices"),
        ("Coronary stents.", "Support Devices"),
        ("Streaky opacities at the bases.", "Lung Opacity"),
        ("Increased interstitial markings.", "Lung Opacity"),
        ("Bilateral infiltrates.", "Lung Opacity"),
        ("Subsegmental atelectatic change.", "Atelectasis"),
        ("Pulmonary vascular congestion.", "Edema"),
        ("Mildly enlarged cardiac silhouette.", "Cardiomegaly"),
        ("Borderline cardiomegaly.", "Cardiomegaly"),
        ("Air-space disease in the lingula.", "Lung Opacity"),
        ("Small right hydropneumothorax.", "Pneumothorax"),
        ("Compression fracture of T11.", "Fracture"),
    ],
)
def test_synonyms_abbreviations_and_stems(text: str, observation: str) -> None:
    assert labels(text)[observation] == POS


# --------------------------------------------------------------------------- cue rules


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        # negation, pre-modifiers
        ("Without pleural effusion.", "Pleural Effusion", NEG),
        ("Lungs are free of consolidation.", "Consolidation", NEG),
        ("Negative for pneumothorax.", "Pneumothorax", NEG),
        ("Lungs are clear of infiltrates.", "Lung Opacity", NEG),
        ("Interval resolution of the left effusion.", "Pleural Effusion", NEG),
        ("No pleural effusions, pneumothorax, or focal consolidation.", "Consolidation", NEG),
        ("Normal heart size.", "Cardiomegaly", NEG),
        # negation, post-modifiers
        ("Heart size is within normal limits.", "Cardiomegaly", NEG),
        ("The cardiac silhouette is unremarkable.", "Cardiomegaly", NEG),
        ("The previously seen pneumothorax has resolved.", "Pneumothorax", NEG),
        ("Pneumothorax is not seen.", "Pneumothorax", NEG),
        ("Heart, mediastinum, and hila are normal.", "Cardiomegaly", NEG),
        # post-negation uncertainty
        ("Right basilar opacity, atelectasis versus pneumonia.", "Pneumonia", UNC),
        ("Right basilar opacity, atelectasis versus pneumonia.", "Atelectasis", UNC),
        ("Small effusion may be present.", "Pleural Effusion", UNC),
        ("Left lower lobe pneumonia is suspected.", "Pneumonia", UNC),
        ("Question of a small pneumothorax.", "Pneumothorax", UNC),
        ("Findings are likely atelectasis.", "Atelectasis", UNC),
        # pre-negation uncertainty (beats the negation word inside it)
        ("Cannot exclude a small pneumothorax.", "Pneumothorax", UNC),
        ("A small effusion cannot be excluded.", "Pleural Effusion", UNC),
        ("Early pneumonia is not ruled out.", "Pneumonia", UNC),
        ("No definite effusion, but the left angle is blunted.", "Pleural Effusion", UNC),
        ("No definite effusion.", "Pleural Effusion", NEG),
        # pseudo-negation: "no change" does not negate
        ("No change in the moderate right effusion.", "Pleural Effusion", POS),
        ("Cardiomegaly, not significantly changed.", "Cardiomegaly", POS),
    ],
)
def test_cues(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("No effusion but there is consolidation.", "Consolidation", POS),
        ("No effusion but there is consolidation.", "Pleural Effusion", NEG),
        ("No pneumothorax; left lower lobe atelectasis.", "Atelectasis", POS),
        ("No effusion, however there is a small pneumothorax.", "Pneumothorax", POS),
        ("No pneumonia. Cardiomegaly.", "Cardiomegaly", POS),
        ("Normal heart size with small bilateral effusions.", "Pleural Effusion", POS),
        ("Lungs are clear. Cardiomegaly.", "Cardiomegaly", POS),
        ("Stable cardiomegaly, lungs are clear.", "Cardiomegaly", POS),
        ("Possible small effusion. Large right pneumothorax.", "Pneumothorax", POS),
        ("No pneumonia, likely atelectasis.", "Atelectasis", UNC),
    ],
)
def test_scope_ends_at_clause_and_sentence_boundaries(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        # a terminator word inside a cue or an exception phrase does not cut the clause
        ("No findings consistent with pneumonia.", "Pneumonia", NEG),
        ("Basilar opacity which may be compatible with mild edema.", "Edema", UNC),
        ("The lungs do not show any consolidation.", "Consolidation", NEG),
        ("The radiograph does not demonstrate a pneumothorax.", "Pneumothorax", NEG),
        ("Correlate clinically with prior rib fracture.", "Fracture", UNC),
        # ... but it still cuts elsewhere
        ("No effusion with mild atelectasis at the bases.", "Atelectasis", POS),
        # a participle and comma close a negated phrase
        ("No definite effusion seen, small calcified nodule in the right lung.", "Lung Lesion", POS),
        ("No definite effusion seen, small calcified nodule in the right lung.", "Pleural Effusion", NEG),
        ("No effusion, pneumothorax or consolidation is identified.", "Consolidation", NEG),
    ],
)
def test_terminator_exceptions(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        # a cue that opens a list of alternatives covers the whole list...
        ("Differential considerations include infection and mild pulmonary edema.", "Edema", UNC),
        ("Differential diagnosis includes atelectasis with small effusions.", "Pleural Effusion", UNC),
        ("Possibilities include pneumonia and mild edema.", "Pneumonia", UNC),
        # ... until a contrast or a semicolon closes it
        ("Differential diagnosis includes infection; there is mild pulmonary edema.", "Edema", POS),
        ("Differential includes atelectasis, but there is a large left effusion.", "Pleural Effusion", POS),
        # without such a cue "and mild" still starts a new clause
        ("No effusion and mild pulmonary edema.", "Edema", POS),
    ],
)
def test_list_of_alternatives_keeps_its_uncertainty(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("If there is clinical concern for a rib fracture, dedicated rib films are suggested.", "Fracture", BLANK),
        ("If symptoms persist, a followup film may exclude pneumonia.", "Pneumonia", UNC),
        ("If the patient is febrile then pneumonia is likely.", "Pneumonia", UNC),
        ("Right rib fracture; if pain persists consider CT.", "Fracture", POS),
    ],
)
def test_mentions_inside_a_conditional_are_ignored(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("Follow-up CT is recommended given the history of malignancy.", "Lung Lesion", BLANK),
        ("Follow-up CT is recommended given the history of malignancy.", "No Finding", POS),
        ("History of rib fractures, no acute fracture.", "Fracture", NEG),
        ("Hx of pneumonia. Lungs are clear.", "Pneumonia", BLANK),
        # the history ends at the comma; what follows is about this image
        ("History of lung cancer, now with a new left pleural effusion.", "Pleural Effusion", POS),
        ("Left lower lobe mass.", "Lung Lesion", POS),
    ],
)
def test_clinical_history_is_not_a_finding(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("An 8 mm calcified nodule in the left midlung.", "Lung Lesion", POS),
        ("Scattered calcified granulomas.", "Lung Lesion", BLANK),
        ("A 9 mm nodule that is not definitely calcified.", "Lung Lesion", POS),
        ("Round calcified density in the right lower lobe.", "Lung Lesion", POS),
        ("Mild fibronodular scarring at the right apex.", "Lung Lesion", POS),
        ("Findings represent a bone island rather than metastasis.", "Lung Lesion", NEG),
        ("Mild thickening of the minor fissure.", "Pleural Other", POS),
        ("Fissural thickening and small effusions.", "Pleural Other", POS),
        ("Old healed right rib fractures.", "Fracture", POS),
        ("The third sternotomy wire is again fractured.", "Fracture", BLANK),
        ("Maybe early consolidation at the left base.", "Consolidation", UNC),
        ("Question mild vascular congestion.", "Edema", UNC),
        ("Opacity at the base, favoring atelectasis.", "Atelectasis", UNC),
        ("Right rib fracture not well seen on the lateral view.", "Fracture", UNC),
        ("Lungs are clear airspace disease.", "Lung Opacity", NEG),
        ("Stable subsegmental atelectasis without significant interval change.", "Atelectasis", POS),
        ("Prior histoplasmosis infection with calcified hilar nodes.", "Pneumonia", BLANK),
    ],
)
def test_rules_1_1_phrases(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("Small pericardial effusion.", "Pleural Effusion", BLANK),
        ("Calcified granuloma in the right upper lobe.", "Lung Lesion", BLANK),
        ("A densely calcified granuloma at the left base.", "Lung Lesion", BLANK),
        ("The left sternotomy wire is fractured.", "Fracture", BLANK),
        ("Fracture of the lateral fixation screw.", "Fracture", BLANK),
        ("This may be a vascular structure or an enlarged lymph node.", "Edema", BLANK),
        ("Sequelae of prior tuberculous infection.", "Pneumonia", BLANK),
        ("Lytic lesion of the left humerus.", "Lung Lesion", BLANK),
        ("Subcutaneous edema of the chest wall.", "Edema", BLANK),
        ("Bone density is low.", "Lung Opacity", BLANK),
        ("Pericardial effusion and a small left pleural effusion.", "Pleural Effusion", POS),
    ],
)
def test_unmentions_suppress_overlapping_mentions(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


def test_anchor_alone_asserts_nothing() -> None:
    # "The heart" with no qualifier and no cue says nothing about its size.
    assert labels("The heart is stable in appearance.")["Cardiomegaly"] == BLANK


# --------------------------------------------------------------------------- aggregation


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], BLANK),
        ([POS], POS),
        ([NEG], NEG),
        ([UNC], UNC),
        ([NEG, UNC], UNC),
        ([NEG, UNC, POS], UNC),
        ([NEG, POS], POS),
        ([UNC, POS], POS),
        ([NEG, NEG], NEG),
    ],
)
def test_aggregate_values(values: list[str], expected: str) -> None:
    assert aggregate_values([LabelValue(v) for v in values]).value == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("No effusion. Small right effusion.", "Pleural Effusion", POS),
        ("No effusion. Possible small left effusion.", "Pleural Effusion", UNC),
        ("Possible pneumonia. Right lower lobe pneumonia.", "Pneumonia", POS),
        ("No pneumothorax. Pneumothorax is not seen.", "Pneumothorax", NEG),
    ],
)
def test_multi_sentence_aggregation(text: str, observation: str, expected: str) -> None:
    assert labels(text)[observation] == expected


def test_chf_adds_uncertain_cardiomegaly() -> None:
    result = label_report("Findings consistent with CHF.")
    assert result.labels["Cardiomegaly"] == UNC
    assert result.labels["Edema"] == POS
    assert label_report("No evidence of CHF.").labels["Cardiomegaly"] == BLANK
    assert label_report("Cardiomegaly and mild CHF.").labels["Cardiomegaly"] == POS


# --------------------------------------------------------------------------- No Finding


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No acute cardiopulmonary abnormality.", POS),
        ("Chest radiograph.", POS),
        ("Lungs are clear. No effusion or pneumothorax.", POS),
        ("Right PICC in good position. Lungs are clear.", POS),  # devices do not count
        ("Possible small effusion.", BLANK),  # uncertain finding counts
        ("Small left effusion.", BLANK),
        ("Emphysema. No acute disease.", BLANK),  # other abnormality
        ("Mild thoracic scoliosis.", BLANK),
        ("Calcified granuloma in the left lung.", BLANK),
        ("Small hiatal hernia.", BLANK),
        ("No emphysema.", POS),  # a negated other abnormality does not block
        ("Surgical clips in the right upper quadrant. Lungs are clear.", BLANK),
        ("Mild dextrocurvature of the thoracic spine. Lungs are clear.", BLANK),
        ("Blunting of the left costophrenic angle. Lungs are clear.", BLANK),
        ("Lung volumes are low with bronchovascular crowding.", BLANK),
    ],
)
def test_no_finding(text: str, expected: str) -> None:
    assert labels(text)["No Finding"] == expected


def test_no_finding_is_never_negative_or_uncertain() -> None:
    assert no_finding_value([LabelValue.NEGATIVE], [LabelValue.NEGATIVE]) is LabelValue.POSITIVE
    assert no_finding_value([LabelValue.UNCERTAIN], []) is LabelValue.BLANK
    assert no_finding_value([], [LabelValue.POSITIVE]) is LabelValue.BLANK


# --------------------------------------------------------------------------- sections


HEADED = (
    "INDICATION: Fever, rule out pneumonia.\n"
    "COMPARISON: None.\n"
    "FINDINGS: Small right pleural effusion. No pneumothorax.\n"
    "IMPRESSION: Cardiomegaly."
)


def test_auto_mode_skips_indication() -> None:
    result = labels(HEADED)
    assert result["Pneumonia"] == BLANK
    assert result["Pleural Effusion"] == POS
    assert result["Cardiomegaly"] == POS
    assert result["Pneumothorax"] == NEG


def test_impression_mode_reads_only_the_impression() -> None:
    result = labels(HEADED, "impression")
    assert result["Cardiomegaly"] == POS
    assert result["Pleural Effusion"] == BLANK


def test_full_mode_reads_everything() -> None:
    assert labels(HEADED, "full")["Pneumonia"] == UNC  # "rule out pneumonia"


def test_no_headings_reads_whole_text() -> None:
    assert labels("Small right pleural effusion.")["Pleural Effusion"] == POS


def test_unknown_section_mode_raises() -> None:
    with pytest.raises(ValueError):
        label_report("No effusion.", "everything")


def test_indication_only_report_is_wordless_in_auto_mode() -> None:
    # Only excluded sections: nothing to read, so everything is blank.
    assert set(labels("INDICATION: cough.\nCOMPARISON: none.").values()) == {BLANK}


# --------------------------------------------------------------------------- evidence


def test_evidence_offsets_point_at_original_text() -> None:
    text = "FINDINGS:  Heart size NORMAL.\n\n IMPRESSION: 1. Possible   left-sided PNEUMOTHORAX."
    result = label_report(text)
    [ptx] = result.evidence["Pneumothorax"]
    assert text[ptx.start : ptx.end] == "PNEUMOTHORAX"
    assert ptx.value is LabelValue.UNCERTAIN
    assert text[ptx.cue_start : ptx.cue_end] == ptx.cue == "Possible"
    assert text[ptx.sentence_start : ptx.sentence_end] == "Possible   left-sided PNEUMOTHORAX."
    [heart] = result.evidence["Cardiomegaly"]
    assert text[heart.start : heart.end] == "Heart size"
    assert heart.cue == "NORMAL"
    assert heart.phrase == "heart size"


def test_evidence_offsets_survive_non_ascii_before_the_mention() -> None:
    # U+0130 lower-cases to two characters; offsets must still match.
    text = "\u0130\u0130 \u00e9t\u00e9 \u2014 small right pleural effusion."
    result = label_report(text)
    [ev] = result.evidence["Pleural Effusion"]
    assert text[ev.start : ev.end] == "pleural effusion"


def test_evidence_json_shape() -> None:
    result = label_report("No pneumothorax. Small right effusion.")
    data = result.evidence_as_json()
    json.dumps(data)  # serialisable
    keys = {"start", "end", "phrase", "sentence_start", "sentence_end", "value", "cue", "cue_start", "cue_end"}
    for items in data.values():
        for item in items:
            assert set(item) == keys
    [neg] = data["Pneumothorax"]
    assert neg["value"] == NEG and neg["cue"] == "No" and neg["cue_start"] == 0
    [pos] = data["Pleural Effusion"]
    assert pos["value"] == POS and pos["cue"] == "" and pos["cue_start"] is None


def test_positive_mentions_of_other_abnormalities_are_no_finding_evidence() -> None:
    text = "Emphysema."
    result = label_report(text)
    [ev] = result.evidence["No Finding"]
    assert text[ev.start : ev.end] == "Emphysema"


def test_report_labels_contract() -> None:
    result = label_report("No effusion.")
    assert isinstance(result, ReportLabels)
    assert list(result.labels) == list(OBSERVATION_NAMES)
    assert result.rules_version == RULES_VERSION
    assert isinstance(RULES_VERSION, str) and RULES_VERSION


def test_label_reports_matches_label_report() -> None:
    texts = ["No effusion.", "Cardiomegaly.", ""]
    assert [r.labels for r in label_reports(texts)] == [label_report(t).labels for t in texts]
    assert [r.labels for r in label_reports(iter(texts), section="full")] == [
        label_report(t, "full").labels for t in texts
    ]


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\t\r\n", "...", "1. 2. 3.", "X", "\x00\x01\x02\x03", "-- ;; ?? !!", "12345 678"],
)
def test_wordless_text_is_all_blank(text: str) -> None:
    assert set(labels(text).values()) == {BLANK}
    assert label_report(text).evidence_as_json() == {}


def test_binary_garbage_never_crashes() -> None:
    rng = random.Random(1234)
    for _ in range(50):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))).decode("latin-1")
        result = label_report(blob)
        assert set(result.labels.values()) <= {POS, NEG, UNC, BLANK}
        json.dumps(result.evidence_as_json())


def test_one_megabyte_report() -> None:
    sentence = "Small left pleural effusion. No pneumothorax. Heart size is normal. "
    text = sentence * (1_000_000 // len(sentence) + 1)
    assert len(text) >= 1_000_000
    result = labels(text)
    assert result["Pleural Effusion"] == POS
    assert result["Pneumothorax"] == NEG
    assert result["Cardiomegaly"] == NEG


def test_html_like_input() -> None:
    text = "<p><b>FINDINGS:</b> No pneumothorax.<br/>Small right effusion.</p>"
    result = labels(text)
    assert result["Pneumothorax"] == NEG
    assert result["Pleural Effusion"] == POS


def test_non_ascii_input() -> None:
    result = labels("Épanchement pleural? — 心脏增大. Small right effusion \u2019s noted.")
    assert result["Pleural Effusion"] == POS


def test_deidentification_tokens() -> None:
    result = labels("There are no XXXX of a pleural effusion. XXXX XXXX cardiomegaly.")
    assert result["Pleural Effusion"] == NEG
    assert result["Cardiomegaly"] == POS


def test_rejects_non_string() -> None:
    with pytest.raises(TypeError):
        label_report(b"No effusion.")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- text helpers


def test_sentence_splitting_keeps_abbreviations_and_lists() -> None:
    text = "1. Opacity, approx. 2 cm, e.g. a nodule. 2. Left effusion\n- Right PICC.\n\nNo pneumothorax"
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == [
        "Opacity, approx. 2 cm, e.g. a nodule.",
        "Left effusion",
        "Right PICC.",
        "No pneumothorax",
    ]


def test_decimal_numbers_do_not_split_sentences() -> None:
    text = "Nodule measures 1.5 cm. No effusion."
    assert [text[s.start : s.end] for s in split_sentences(text)] == ["Nodule measures 1.5 cm.", "No effusion."]


def test_lower_same_length() -> None:
    for text in ["ABC", "\u0130stanbul", "a\u2019b", ""]:
        assert len(lower_same_length(text)) == len(text)


@pytest.mark.parametrize("bad", ["No Effusion", "{a|b", "a}", "...", "a ...", "ab*"])
def test_phrase_syntax_errors(bad: str) -> None:
    with pytest.raises(PhraseSyntaxError):
        compile_entry(bad, section="mention", key="test")


def test_phrase_syntax() -> None:
    entry = compile_entry("{left |right |}pleural effusion*", section="mention", key="test")
    assert entry.regex.match("right pleural-effusions")
    assert entry.regex.match("pleural\neffusion")
    gap = compile_entry("heart ...2 enlarged", section="mention", key="test")
    assert gap.regex.match("heart is mildly enlarged")
    assert not gap.regex.match("heart is very much enlarged")
    assert not gap.regex.match("heart, enlarged")
