"""Compose the demo chest X-ray reports in demo/reports.csv.

Every sentence below was written for this project (no text is taken from MIMIC-CXR,
Open-i, CheXpert or any other corpus). Reports are assembled per clinical scenario
(normal, CHF, pneumonia, effusion, post-op, ICU lines, trauma, nodule, pneumothorax,
COPD, pleural plaques, pacemaker, nonspecific opacity, ...) so that the sentences of
one report agree with each other, then laid out in one of several heading
conventions (Open-i, MIMIC-CXR, numbered impression, no headings, one line).

The output is deterministic: a fixed seed drives one `random.Random`, and nothing
depends on the clock or on set/dict iteration order of unordered data.

Usage:
    python demo/generate_reports.py [OUTPUT_CSV]   # default: demo/reports.csv
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240611
N_PATIENTS = 200
MIN_REPORTS = 320
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "reports.csv"
COLUMNS = ("id", "patient_id", "study_date", "Reports")

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def pick(rng: random.Random, options: list[str] | tuple[str, ...]) -> str:
    return rng.choice(list(options))


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def other_side(side: str) -> str:
    return "left" if side == "right" else "right"


LOBES = (
    ("right", "right upper lobe"),
    ("right", "right middle lobe"),
    ("right", "right lower lobe"),
    ("left", "left upper lobe"),
    ("left", "lingula"),
    ("left", "left lower lobe"),
)
BASAL_LOBES = (
    ("right", "right lower lobe"),
    ("left", "left lower lobe"),
    ("right", "right middle lobe"),
    ("left", "lingula"),
)


@dataclass
class Ctx:
    rng: random.Random
    prior: str | None  # date of the prior study of this patient (YYYY-MM-DD) or None
    visit: int  # 0 for a patient's first study in this file
    memory: dict[str, str]  # per-patient facts kept across visits (side, lobe, ...)


@dataclass
class Study:
    indication: str
    findings: list[str]
    impression: list[str]
    portable: bool = False
    urgent: bool = False  # add a notification line in MIMIC layout
    layout_hint: str | None = None  # force a layout ("terse", "long")
    extra_comparison: str | None = None


@dataclass
class Slots:
    """Findings by anatomic slot; None means "say it is normal", [] means "omit"."""

    devices: list[str] = field(default_factory=list)
    heart: list[str] | None = None
    mediastinum: list[str] | None = None
    lungs: list[str] | None = None
    pleura: list[str] | None = None
    ptx: list[str] | None = None
    bones: list[str] | None = None
    other: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)  # interval-change sentences first


# --------------------------------------------------------------------------------------
# Normal sentence banks
# --------------------------------------------------------------------------------------

HEART_NORMAL = [
    "The heart is normal in size.",
    "Heart size is normal.",
    "The cardiac silhouette is within normal limits.",
    "Cardiac size is normal.",
    "No cardiomegaly.",
    "Heart size is within normal limits.",
]
MEDIASTINUM_NORMAL = [
    "The mediastinal and hilar contours are unremarkable.",
    "Mediastinal contours are normal.",
    "The mediastinum is not widened.",
    "Hilar and mediastinal contours are within normal limits.",
    "The mediastinal silhouette and hila are normal.",
]
CARDIOMEDIASTINAL_NORMAL = [
    "The cardiomediastinal silhouette is normal.",
    "Normal heart size and mediastinal contours.",
    "Cardiomediastinal contours are within normal limits.",
    "The heart and mediastinum are unremarkable.",
    "The cardiac, mediastinal and hilar contours are normal.",
    "Heart size and mediastinal contours are normal.",
]
LUNGS_NORMAL = [
    "The lungs are clear.",
    "The lungs are well expanded and clear.",
    "Lungs are clear bilaterally without focal consolidation.",
    "No focal airspace consolidation.",
    "There is no focal consolidation, pulmonary edema, or suspicious pulmonary nodule.",
    "The lungs are clear without focal opacity.",
    "Pulmonary vascularity is normal. The lungs are clear.",
    "The lungs are clear and well aerated.",
    "No focal opacity to suggest pneumonia.",
    "Lung volumes are normal. No consolidation or edema.",
]
PLEURA_NORMAL = [
    "No pleural effusion.",
    "There is no pleural effusion.",
    "The costophrenic angles are sharp.",
    "No pleural effusion is seen.",
]
PTX_NORMAL = [
    "No pneumothorax.",
    "There is no pneumothorax.",
    "No pneumothorax is seen.",
    "No evidence of pneumothorax.",
]
PLEURA_PTX_NORMAL = [
    "No pleural effusion or pneumothorax.",
    "There is no pleural effusion or pneumothorax.",
    "No effusion or pneumothorax.",
    "There is no evidence of pleural effusion or pneumothorax.",
    "Pleural spaces are clear without effusion or pneumothorax.",
]
BONES_NORMAL = [
    "The visualized osseous structures are unremarkable.",
    "No acute osseous abnormality.",
    "Osseous structures are intact.",
    "No acute fracture is identified.",
    "Bony structures are within normal limits for age.",
    "The bones are unremarkable.",
    "No displaced rib fracture is seen.",
]

NORMAL_IMPRESSIONS = [
    "No acute cardiopulmonary process.",
    "No acute cardiopulmonary abnormality.",
    "Normal chest radiograph.",
    "No radiographic evidence of acute cardiopulmonary disease.",
    "No active disease in the chest.",
    "No acute intrathoracic abnormality.",
    "Normal chest.",
    "Clear lungs. No acute disease.",
]

NO_PRIOR_COMPARISON = ["None.", "None available.", "No prior studies available.", "None."]

# Indications that mention a condition which is then NOT present (labelers must ignore
# the INDICATION section).
DECOY_INDICATIONS = [
    "Rule out pneumonia.",
    "Shortness of breath, history of CHF.",
    "Cough and fever, evaluate for pneumonia.",
    "Chest pain. Evaluate for pneumothorax.",
    "History of lung cancer, surveillance.",
    "Preoperative evaluation.",
    "Pleuritic chest pain, assess for effusion.",
    "Fall, rule out rib fracture.",
    "Dyspnea on exertion, history of heart failure.",
    "Hemoptysis, evaluate for mass.",
    "___-year-old woman with chest pain.",
    "___-year-old man with cough for two weeks, rule out pneumonia.",
    "Follow-up of prior consolidation.",
    "Tachycardia and hypoxia.",
    "Routine screening for tuberculosis, PPD positive.",
    "Pre-employment examination.",
]


def assemble(rng: random.Random, s: Slots) -> list[str]:
    """Turn slots into findings sentences, filling unspecified slots with normals."""
    out: list[str] = list(s.change) + list(s.devices)
    if s.heart is None and s.mediastinum is None and chance(rng, 0.5):
        out.append(pick(rng, CARDIOMEDIASTINAL_NORMAL))
    else:
        out += s.heart if s.heart is not None else [pick(rng, HEART_NORMAL)]
        out += s.mediastinum if s.mediastinum is not None else ([pick(rng, MEDIASTINUM_NORMAL)] if chance(rng, 0.7) else [])
    out += s.lungs if s.lungs is not None else [pick(rng, LUNGS_NORMAL)]
    if s.pleura is None and s.ptx is None and chance(rng, 0.6):
        out.append(pick(rng, PLEURA_PTX_NORMAL))
    else:
        out += s.pleura if s.pleura is not None else [pick(rng, PLEURA_NORMAL)]
        out += s.ptx if s.ptx is not None else [pick(rng, PTX_NORMAL)]
    out += s.bones if s.bones is not None else ([pick(rng, BONES_NORMAL)] if chance(rng, 0.6) else [])
    out += s.other
    # "Pulmonary vascularity is normal. The lungs are clear." is two sentences in one item.
    return [x for x in out if x]


def comparison_change_prefix(ctx: Ctx) -> str:
    return pick(
        ctx.rng,
        [
            f"Compared with the prior study of {ctx.prior},",
            f"Compared to the radiograph from {ctx.prior},",
            "Since the prior examination,",
            "In comparison with the previous study,",
            f"Relative to {ctx.prior},",
        ],
    )


# --------------------------------------------------------------------------------------
# Incidental (non-CheXpert) findings
# --------------------------------------------------------------------------------------

INCIDENTALS = [
    "A calcified granuloma is noted in the right upper lobe.",
    "Small calcified granuloma in the left mid lung.",
    "Calcified right hilar lymph nodes suggest prior granulomatous disease.",
    "Mild degenerative changes of the thoracic spine.",
    "Multilevel degenerative disc disease of the thoracic spine.",
    "Degenerative changes of both glenohumeral joints.",
    "Mild dextroconvex scoliosis of the thoracic spine.",
    "S-shaped scoliosis of the thoracolumbar spine.",
    "A small hiatal hernia is present.",
    "A retrocardiac air-fluid level is consistent with a moderate hiatal hernia.",
    "The thoracic aorta is mildly tortuous.",
    "Atherosclerotic calcification of the aortic knob.",
    "Surgical clips in the right upper quadrant from prior cholecystectomy.",
    "Anterior cervical fusion hardware is partially imaged.",
    "Bilateral breast implants are noted.",
    "Postsurgical changes of a right axillary lymph node dissection.",
]
INCIDENTAL_IMPRESSIONS = {
    "granuloma": "Evidence of prior granulomatous disease.",
    "hiatal hernia": "Hiatal hernia.",
    "scoliosis": "Scoliosis.",
    "degenerative": "Degenerative changes of the spine.",
}


def incidental(rng: random.Random, n: int = 1) -> list[str]:
    return rng.sample(INCIDENTALS, n)


# --------------------------------------------------------------------------------------
# Scenarios. Each returns a Study whose sentences are coherent with one another.
# --------------------------------------------------------------------------------------


def sc_normal(ctx: Ctx) -> Study:
    rng = ctx.rng
    s = Slots()
    if ctx.prior and chance(rng, 0.6):
        s.change = [
            pick(
                rng,
                [
                    f"Compared with the prior study of {ctx.prior}, there is no significant interval change.",
                    "No interval change since the prior radiograph.",
                    "The appearance of the chest is unchanged from the prior study.",
                ]
                + (
                    [f"Compared to {ctx.prior}, the previously noted {ctx.memory['lobe']} opacity has resolved."]
                    if "lobe" in ctx.memory
                    else []
                ),
            )
        ]
    if chance(rng, 0.15):
        s.lungs = ["The lungs are clear. Specifically, there is no evidence of pneumonia."]
    impression = [pick(rng, NORMAL_IMPRESSIONS)]
    indication = (
        pick(rng, DECOY_INDICATIONS)
        if chance(rng, 0.55)
        else pick(
            rng,
            [
                "Cough.",
                "Chest pain.",
                "Shortness of breath.",
                "Fever.",
                "Preoperative chest radiograph.",
                "Weakness.",
                "Syncope.",
                "Abnormal breath sounds.",
                "___ with palpitations.",
            ],
        )
    )
    return Study(indication, assemble(rng, s), impression)


def sc_normal_incidental(ctx: Ctx) -> Study:
    rng = ctx.rng
    extras = incidental(rng, rng.choice([1, 1, 2]))
    s = Slots(other=extras)
    if any("degenerative" in e.lower() or "scoliosis" in e.lower() for e in extras):
        s.bones = ["No acute fracture."] if chance(rng, 0.5) else []
    impression = [pick(rng, NORMAL_IMPRESSIONS)]
    for key, imp in INCIDENTAL_IMPRESSIONS.items():
        if any(key in e.lower() for e in extras) and chance(rng, 0.5):
            impression.append(imp)
    indication = (
        pick(rng, DECOY_INDICATIONS)
        if chance(rng, 0.5)
        else pick(rng, ["Back pain.", "Epigastric pain.", "Routine follow-up.", "Hypertension.", "Cough."])
    )
    return Study(indication, assemble(rng, s), impression)


def sc_copd(ctx: Ctx) -> Study:
    rng = ctx.rng
    lungs = [
        pick(
            rng,
            [
                "The lungs are hyperinflated with flattening of the hemidiaphragms, consistent with emphysema.",
                "Hyperexpanded lungs with an increased retrosternal clear space, compatible with COPD.",
                "The lungs are hyperlucent and hyperinflated, in keeping with chronic obstructive pulmonary disease.",
                "Emphysematous changes are most pronounced in the upper lobes.",
            ],
        )
    ]
    if chance(rng, 0.4):
        lungs.append(pick(rng, ["Biapical bullae are present.", "A large bulla occupies the left apex."]))
    if chance(rng, 0.4):
        lungs.append("Coarsened interstitial markings at the bases are likely chronic.")
    lungs.append(
        pick(
            rng,
            [
                "No focal consolidation.",
                "There is no superimposed consolidation.",
                "No acute airspace disease.",
            ],
        )
    )
    acute = chance(rng, 0.3)
    if acute:
        lungs[-1] = "Subtle opacity at the left base could represent atelectasis, although early pneumonia cannot be excluded."
    s = Slots(lungs=lungs)
    if chance(rng, 0.3):
        s.ptx = ["No pneumothorax is identified, including at the apices."]
    s.heart = [pick(rng, ["The heart is narrow and vertically oriented.", "Heart size is normal."])]
    impression = [
        pick(
            rng,
            [
                "Emphysema without acute cardiopulmonary process.",
                "Hyperinflation consistent with COPD. No focal consolidation.",
                "Chronic obstructive pulmonary disease. No acute findings.",
            ],
        )
    ]
    if acute:
        impression = [
            "Emphysema.",
            "Subtle left basilar opacity, atelectasis versus early pneumonia.",
        ]
    indication = pick(
        rng,
        [
            "COPD exacerbation.",
            "History of COPD, increased dyspnea.",
            "Smoker with cough.",
            "Wheezing, rule out pneumonia.",
        ],
    )
    return Study(indication, assemble(rng, s), impression)


def sc_chf(ctx: Ctx) -> Study:
    rng = ctx.rng
    severity = pick(rng, ["mild", "moderate", "moderate", "severe"])
    heart = [
        pick(
            rng,
            [
                "The heart is moderately enlarged.",
                "Moderate cardiomegaly.",
                "The cardiac silhouette is enlarged.",
                "There is marked enlargement of the cardiac silhouette.",
            ]
            + (["Stable cardiomegaly."] if ctx.prior else []),
        )
    ]
    edema_bank = {
        "mild": [
            "There is pulmonary vascular congestion with mild interstitial edema.",
            "Cephalization of the pulmonary vasculature and mild interstitial edema.",
            "Mild pulmonary edema with indistinct vascular markings.",
        ],
        "moderate": [
            "Diffuse bilateral perihilar haziness and Kerley B lines compatible with moderate pulmonary edema.",
            "Moderate interstitial pulmonary edema with peribronchial cuffing.",
            "Bilateral perihilar opacities are consistent with moderate pulmonary edema.",
        ],
        "severe": [
            "Extensive bilateral airspace opacities in a perihilar distribution, consistent with severe alveolar pulmonary edema.",
            "Severe pulmonary edema with confluent bilateral perihilar airspace opacities.",
        ],
    }
    uncertain = ctx.prior is None and chance(rng, 0.25)
    lungs = [
        "Hazy bilateral perihilar opacities, which may represent mild pulmonary edema."
        if uncertain
        else pick(rng, edema_bank[severity])
    ]
    pleura_choice = rng.randrange(4)
    pleura = [
        [],
        ["Small bilateral pleural effusions."],
        ["Small right pleural effusion with blunting of the costophrenic angle."],
        ["Trace left pleural effusion."],
    ][pleura_choice]
    s = Slots(heart=heart, lungs=lungs, pleura=pleura or None)
    atelectasis = chance(rng, 0.45)
    if atelectasis:
        lungs.append(
            pick(
                rng,
                [
                    "Bibasilar opacities likely reflect atelectasis, though superimposed infection cannot be excluded.",
                    "Retrocardiac opacity likely reflects atelectasis.",
                    "Bibasilar atelectasis.",
                ],
            )
        )
    if ctx.prior:
        direction = pick(rng, ["improved", "worsened", "unchanged"])
        s.change = [
            {
                "improved": f"{comparison_change_prefix(ctx)} the pulmonary edema has improved.",
                "worsened": f"{comparison_change_prefix(ctx)} there is worsening pulmonary edema.",
                "unchanged": f"{comparison_change_prefix(ctx)} the appearance of the chest is similar.",
            }[direction]
        ]
    if chance(rng, 0.3):
        s.devices = [
            pick(
                rng,
                [
                    "A left chest wall dual-chamber pacemaker has leads terminating in the right atrium and right ventricle.",
                    "A left-sided implantable cardioverter-defibrillator is present with its lead in the right ventricle.",
                ],
            )
        ]
    imp_main = (
        "Possible mild pulmonary edema."
        if uncertain
        else pick(
            rng,
            [
                f"Cardiomegaly with {severity} pulmonary edema.",
                f"Findings consistent with congestive heart failure with {severity} pulmonary edema.",
                f"Congestive heart failure, {severity}.",
            ],
        )
    )
    impression = [imp_main]
    if pleura:
        impression.append(
            pick(rng, ["Small pleural effusion.", "Small effusion as described."])
            if pleura_choice != 1
            else "Small bilateral pleural effusions."
        )
    if s.devices:
        impression.append("Cardiac device in place.")
    indication = pick(
        rng,
        [
            "Shortness of breath, history of CHF.",
            "Dyspnea and leg swelling.",
            "Orthopnea, evaluate for pulmonary edema.",
            "___-year-old man with heart failure, increased oxygen requirement.",
            "Hypoxia.",
            "Weight gain and dyspnea.",
        ],
    )
    return Study(indication, assemble(rng, s), impression, portable=chance(rng, 0.5))


def sc_cardiomegaly(ctx: Ctx) -> Study:
    rng = ctx.rng
    variant = rng.randrange(4)
    heart = [
        [
            "The heart is mildly enlarged.",
            "Mild cardiomegaly.",
            "There is mild enlargement of the cardiac silhouette.",
        ],
        ["Borderline cardiomegaly.", "Heart size is top normal to mildly enlarged."],
        [
            "The cardiac silhouette is enlarged, which may reflect cardiomegaly or a pericardial effusion.",
            "Globular enlargement of the cardiac silhouette; pericardial effusion cannot be excluded.",
        ],
        ["Moderate cardiomegaly is unchanged."]
        if ctx.prior
        else ["Moderate cardiomegaly.", "The heart is enlarged, with a left ventricular configuration."],
    ][variant]
    s = Slots(heart=[pick(rng, heart)])
    s.lungs = [
        pick(
            rng,
            [
                "No pulmonary edema.",
                "The lungs are clear without evidence of pulmonary edema.",
                "There is no pulmonary vascular congestion or edema.",
                "The lungs are clear.",
            ],
        )
    ]
    impression = [
        [
            "Mild cardiomegaly without evidence of pulmonary edema.",
            "Borderline cardiomegaly. No acute cardiopulmonary process.",
            "Enlarged cardiac silhouette, cardiomegaly versus pericardial effusion. Echocardiography could be considered.",
            "Stable cardiomegaly. No acute process." if ctx.prior else "Moderate cardiomegaly. No acute process.",
        ][variant]
    ]
    if chance(rng, 0.3):
        s.other = incidental(rng)
    indication = pick(
        rng,
        [
            "Hypertension.",
            "Chest pain.",
            "Shortness of breath.",
            "Atrial fibrillation.",
            "History of cardiomyopathy.",
            "Dyspnea, rule out edema.",
        ],
    )
    return Study(indication, assemble(rng, s), impression)


def sc_mediastinum(ctx: Ctx) -> Study:
    rng = ctx.rng
    variant = rng.randrange(4)
    urgent = False
    if variant == 0:
        med = [
            "The superior mediastinum appears widened, measuring 9 cm at the level of the aortic knob.",
            "The aortic contour is indistinct.",
        ]
        impression = [
            "Widened mediastinum. Mediastinal hematoma or aortic injury cannot be excluded; CT angiography of the chest is recommended."
        ]
        indication = "Motor vehicle collision, chest pain."
        urgent = True
    elif variant == 1:
        med = [
            pick(
                rng,
                [
                    "Prominence of the right paratracheal stripe and bilateral hilar fullness.",
                    "Lobulated bilateral hilar enlargement.",
                ],
            )
        ]
        impression = [
            "Mediastinal and hilar enlargement, possibly due to lymphadenopathy. Chest CT is recommended for further evaluation."
        ]
        indication = pick(rng, ["Weight loss and night sweats.", "Cough, abnormal outside radiograph."])
    elif variant == 2:
        med = [
            "The cardiomediastinal silhouette appears enlarged, likely accentuated by the low lung volumes and AP portable technique."
        ]
        impression = ["Enlarged cardiomediastinal silhouette, likely technical. Low lung volumes."]
        indication = pick(rng, ["Altered mental status.", "Sepsis.", "Fever."])
    else:
        med = [
            "The superior mediastinum is widened, with rightward deviation of the trachea at the thoracic inlet.",
        ]
        impression = [
            "Widening of the superior mediastinum, which may represent a substernal goiter. Correlation with prior neck imaging is suggested."
        ]
        indication = "Dysphagia."
    heart = ["Heart size is normal."] if variant != 2 else []
    s = Slots(heart=heart, mediastinum=med)
    if variant == 2:
        s.lungs = ["Low lung volumes with bronchovascular crowding.", "No definite focal consolidation."]
    return Study(indication, assemble(rng, s), impression, portable=variant in (0, 2), urgent=urgent)


def sc_pneumonia(ctx: Ctx) -> Study:
    rng = ctx.rng
    side, lobe = (ctx.memory["side"], ctx.memory["lobe"]) if "lobe" in ctx.memory else rng.choice(LOBES)
    ctx.memory.update(side=side, lobe=lobe)
    s = Slots()
    follow = ctx.prior is not None and chance(rng, 0.8)
    if follow:
        outcome = pick(rng, ["improved", "resolved", "worse"])
        if outcome == "resolved":
            s.change = [f"{comparison_change_prefix(ctx)} the {lobe} consolidation has resolved."]
            impression = [
                pick(
                    rng,
                    [
                        f"Resolution of {lobe} pneumonia.",
                        "Interval clearing of the previously seen consolidation. No acute process.",
                    ],
                )
            ]
            return Study("Follow-up pneumonia.", assemble(rng, s), impression)
        if outcome == "improved":
            s.lungs = [
                f"{comparison_change_prefix(ctx)} the {lobe} consolidation has decreased, with residual patchy opacity.",
            ]
            impression = [f"Improving {lobe} pneumonia."]
        else:
            s.lungs = [
                f"{comparison_change_prefix(ctx)} there is increased consolidation in the {lobe}.",
                f"New patchy opacity in the {other_side(side)} lower lobe, concerning for spread of infection.",
            ]
            impression = [f"Worsening {lobe} pneumonia with new {other_side(side)} lower lobe involvement."]
        return Study(
            pick(rng, ["Follow-up pneumonia.", "Persistent fever on antibiotics."]),
            assemble(rng, s),
            impression,
        )
    variant = rng.randrange(5)
    if variant == 0:
        s.lungs = [
            f"There is a focal consolidation in the {lobe}, consistent with pneumonia.",
        ]
        impression = [f"{cap(lobe)} pneumonia."]
    elif variant == 1:
        s.lungs = [
            f"Dense airspace consolidation in the {lobe} with air bronchograms.",
            "The remainder of the lungs is clear.",
        ]
        impression = [
            f"Findings compatible with {lobe} pneumonia.",
            "Follow-up radiographs after treatment are recommended to document resolution.",
        ]
    elif variant == 2:
        s.lungs = [f"Patchy opacity in the {lobe}, concerning for pneumonia."]
        impression = [f"Patchy {lobe} opacity, likely pneumonia."]
    elif variant == 3:
        side, lobe = rng.choice(BASAL_LOBES)
        ctx.memory.update(side=side, lobe=lobe)
        s.lungs = [f"Increased opacity at the {side} lung base, which may represent atelectasis versus early pneumonia."]
        impression = [f"{cap(side)} basilar opacity, atelectasis versus pneumonia."]
    else:
        s.lungs = [f"Ill-defined opacity in the {lobe}; pneumonia cannot be excluded in the appropriate clinical setting."]
        impression = [
            pick(
                rng,
                [f"Possible early {lobe} pneumonia.", f"Ill-defined {lobe} opacity; cannot exclude early pneumonia."],
            )
        ]
    if chance(rng, 0.3):
        s.pleura = [f"Small {side} parapneumonic pleural effusion."]
        impression.append(f"Small {side} pleural effusion.")
    if chance(rng, 0.25):
        s.lungs.append(
            pick(
                rng,
                [
                    "No pulmonary edema.",
                    f"The {other_side(side)} lung is clear.",
                    "No cavitation is seen.",
                ],
            )
        )
    indication = pick(
        rng,
        [
            "Fever and cough.",
            "Rule out pneumonia.",
            "Productive cough and leukocytosis.",
            "___-year-old woman with fever and hypoxia.",
            "Pleuritic chest pain and fever.",
            "Cough, rule out infiltrate.",
        ],
    )
    return Study(indication, assemble(rng, s), impression)


def sc_effusion(ctx: Ctx) -> Study:
    rng = ctx.rng
    side = ctx.memory.setdefault("side", pick(rng, ["right", "left"]))
    size = pick(rng, ["small", "moderate", "moderate", "large"])
    s = Slots()
    if ctx.prior:
        direction = pick(rng, ["decreased", "increased", "stable"])
        s.change = [
            {
                "decreased": f"{comparison_change_prefix(ctx)} the {side} pleural effusion has decreased in size.",
                "increased": f"{comparison_change_prefix(ctx)} the {side} pleural effusion has increased.",
                "stable": f"{comparison_change_prefix(ctx)} the {side} pleural effusion is unchanged.",
            }[direction]
        ]
        if direction == "decreased":
            size = "small" if size != "moderate" else size
        s.pleura = [f"There is now a {size} {side} pleural effusion."] if direction != "stable" else []
        impression = [
            {
                "decreased": f"Decreased {side} pleural effusion, now {size}.",
                "increased": f"Increased {size} {side} pleural effusion.",
                "stable": f"Stable {side} pleural effusion.",
            }[direction]
        ]
    else:
        s.pleura = [
            pick(
                rng,
                [
                    f"{cap(size)} {side} pleural effusion.",
                    f"There is a {size} {side} pleural effusion.",
                    f"A {size} layering {side} pleural effusion is present.",
                    f"Blunting of the {side} costophrenic angle with a meniscus, consistent with a {size} pleural effusion.",
                ],
            )
        ]
        impression = [f"{cap(size)} {side} pleural effusion."]
    atel = rng.randrange(3)
    s.lungs = [
        [
            f"Adjacent {side} basilar opacity likely reflects compressive atelectasis.",
            f"Associated {side} lower lobe atelectasis.",
        ][rng.randrange(2)],
        f"Patchy {side} basilar opacity, likely atelectasis, though underlying consolidation cannot be excluded.",
        f"Adjacent {side} basilar opacity may represent atelectasis or pneumonia.",
    ][atel : atel + 1]
    impression.append(
        [
            "Adjacent atelectasis.",
            "Underlying consolidation cannot be excluded.",
            "Adjacent opacity, atelectasis versus pneumonia.",
        ][atel]
    )
    if chance(rng, 0.5):
        s.lungs.append(f"The {other_side(side)} lung is clear.")
    if size == "large" and not ctx.prior:
        s.mediastinum = [f"There is mild shift of the mediastinum toward the {other_side(side)}."]
    indication = pick(
        rng,
        [
            "Dyspnea.",
            "Decreased breath sounds at the base.",
            f"History of {side} pleural effusion.",
            "Status post thoracentesis." if ctx.prior else "Chest pain and dyspnea.",
            "Metastatic breast cancer, shortness of breath.",
            "Renal failure, evaluate for fluid overload.",
        ],
    )
    if ctx.prior and "thoracentesis" in indication:
        s.ptx = ["No pneumothorax following thoracentesis."]
    return Study(indication, assemble(rng, s), impression, portable=chance(rng, 0.3))


ETT_POS = [
    ("The endotracheal tube terminates {n} cm above the carina.", "Endotracheal tube in standard position."),
    (
        "Endotracheal tube tip is at the level of the clavicular heads, approximately {n} cm above the carina.",
        "Endotracheal tube in appropriate position.",
    ),
    (
        "The endotracheal tube tip lies 1 cm above the carina; withdrawal by 2 to 3 cm is recommended.",
        "Low-lying endotracheal tube, recommend withdrawal by 2 to 3 cm.",
    ),
    (
        "The endotracheal tube is in the right mainstem bronchus.",
        "Endotracheal tube in the right mainstem bronchus; recommend retraction.",
    ),
]
ENTERIC_POS = [
    ("A nasogastric tube passes below the diaphragm with the tip in the stomach.", "Nasogastric tube in the stomach."),
    ("An enteric tube courses below the diaphragm, with the tip beyond the field of view.", "Enteric tube below the diaphragm."),
    (
        "The enteric tube is coiled in the distal esophagus; repositioning is recommended.",
        "Malpositioned enteric tube coiled in the esophagus.",
    ),
    ("A feeding tube terminates in the proximal duodenum.", "Feeding tube in the duodenum."),
    ("An orogastric tube tip and side port are in the stomach.", "Orogastric tube in the stomach."),
]
LINE_POS = [
    (
        "A right internal jugular central venous catheter terminates in the mid superior vena cava.",
        "Right IJ central line in the SVC.",
    ),
    (
        "A left subclavian central venous catheter tip projects over the cavoatrial junction.",
        "Left subclavian line at the cavoatrial junction.",
    ),
    ("A right PICC line terminates in the lower superior vena cava.", "Right PICC in the SVC."),
    (
        "A left-sided PICC ends at the junction of the left brachiocephalic vein and SVC.",
        "Left PICC tip at the brachiocephalic-SVC junction.",
    ),
    (
        "The right internal jugular catheter tip is in the right atrium and could be withdrawn 2 cm.",
        "Right IJ catheter tip in the right atrium.",
    ),
    (
        "A right PICC courses cephalad into the right internal jugular vein.",
        "Malpositioned right PICC directed into the internal jugular vein.",
    ),
    (
        "A dual-lumen hemodialysis catheter via the right internal jugular vein terminates in the right atrium.",
        "Dialysis catheter in good position.",
    ),
]


def devices_icu(rng: random.Random) -> tuple[list[str], list[str]]:
    findings: list[str] = []
    impressions: list[str] = []
    if chance(rng, 0.8):
        f, i = rng.choice(ETT_POS[:2] * 3 + ETT_POS[2:])
        findings.append(f.format(n=rng.choice([3, 4, 4.5, 5, 5.5, 6])))
        impressions.append(i)
    if chance(rng, 0.75):
        f, i = rng.choice(ENTERIC_POS)
        findings.append(f)
        impressions.append(i)
    for f, i in rng.sample(LINE_POS, rng.choice([1, 1, 2])):
        findings.append(f)
        impressions.append(i)
    return findings, impressions


def sc_icu(ctx: Ctx) -> Study:
    rng = ctx.rng
    dev_f, dev_i = devices_icu(rng)
    s = Slots(devices=dev_f)
    variant = rng.randrange(4)
    impression = []
    if variant == 0:
        s.lungs = ["Diffuse bilateral airspace opacities, which may represent pulmonary edema, ARDS, or multifocal infection."]
        impression.append("Diffuse bilateral airspace opacities; differential includes edema, ARDS, and multifocal pneumonia.")
    elif variant == 1:
        s.lungs = ["Retrocardiac opacity likely represents atelectasis.", "The lungs are otherwise clear."]
        impression.append("Left retrocardiac atelectasis.")
    elif variant == 2:
        s.lungs = ["Low lung volumes with bibasilar atelectasis.", "No pulmonary edema."]
        impression.append("Bibasilar atelectasis.")
    else:
        s.lungs = ["The lungs are clear."]
    if chance(rng, 0.3):
        s.pleura = ["Small bilateral pleural effusions are likely present, though difficult to assess on this supine film."]
        impression.append("Probable small bilateral effusions.")
    if chance(rng, 0.25):
        s.heart = ["Heart size is difficult to assess on this portable study but appears mildly enlarged."]
    has_ett = any("endotracheal" in f.lower() for f in dev_f)
    if ctx.prior:
        s.change = [
            pick(
                rng,
                [
                    f"Compared with the prior study of {ctx.prior}, lines and tubes are unchanged in position.",
                    "Compared to the prior radiograph, the support devices are stable.",
                    "Interval placement of the support devices described below.",
                ],
            )
        ]
        if not has_ett and chance(rng, 0.5):
            s.change = ["Interval extubation."]
            impression.insert(0, "Interval extubation.")
    if chance(rng, 0.4) and variant != 3:
        impression = impression + ["Support devices as described."]
    else:
        impression = dev_i + (impression or ["No acute cardiopulmonary process."])
    indication = pick(
        rng,
        [
            "Intubated patient, assess tube placement.",
            "Line placement.",
            "Post-intubation.",
            "Respiratory failure.",
            "Septic shock, central line placed.",
            "Enteric tube placement.",
            "___-year-old man intubated for airway protection.",
        ],
    )
    return Study(indication, assemble(rng, s), impression, portable=True)


def sc_postop(ctx: Ctx) -> Study:
    rng = ctx.rng
    s = Slots()
    s.devices = (
        ["Median sternotomy wires are intact."]
        if chance(rng, 0.5)
        else ["The patient is status post median sternotomy and CABG."]
    )
    impression: list[str] = []
    early = ctx.visit == 0 or chance(rng, 0.4)
    if early:
        dev = rng.sample(
            [
                "A right internal jugular Swan-Ganz catheter terminates in the right pulmonary artery.",
                "Mediastinal drains and a left chest tube are in place.",
                "The endotracheal tube terminates 5 cm above the carina.",
                "A nasogastric tube is seen in the stomach.",
                "Epicardial pacing wires are noted.",
            ],
            rng.choice([2, 3, 4]),
        )
        s.devices += dev
        impression.append("Expected postoperative appearance with lines and tubes as described.")
        s.mediastinum = [
            pick(
                rng,
                [
                    "Postoperative widening of the cardiomediastinal silhouette is expected.",
                    "The cardiomediastinal silhouette is mildly widened, as expected after surgery.",
                ],
            )
        ]
        s.heart = []
    else:
        s.change = [f"{comparison_change_prefix(ctx)} the chest tube and mediastinal drains have been removed."]
        s.mediastinum = ["The cardiomediastinal silhouette is stable in appearance."]
        s.heart = []
    lung_f, lung_i = rng.choice(
        [
            ("Left basilar atelectasis.", "Left basilar atelectasis."),
            ("Left retrocardiac opacity, likely atelectasis.", "Left retrocardiac atelectasis."),
            ("Mild bibasilar atelectasis.", "Mild bibasilar atelectasis."),
            ("Patchy left lower lobe opacity is most likely atelectasis.", "Probable left lower lobe atelectasis."),
        ]
    )
    s.lungs = [lung_f]
    impression.append(lung_i)
    if chance(rng, 0.6):
        s.pleura = [pick(rng, ["Small left pleural effusion.", "Small bilateral pleural effusions.", "Trace left effusion."])]
        impression.append("Small pleural effusion.")
    ptx = rng.randrange(3)
    if ptx == 0:
        s.ptx = ["Tiny left apical pneumothorax."]
        impression.append("Tiny left apical pneumothorax.")
    elif ptx == 1:
        s.ptx = ["No pneumothorax is seen after chest tube removal." if not early else "No pneumothorax."]
    indication = pick(
        rng,
        [
            "Status post CABG.",
            "Post-op day 1 after aortic valve replacement.",
            "Status post cardiac surgery, evaluate for pneumothorax.",
        ]
        + ([] if early else ["Chest tube removal."]),
    )
    return Study(indication, assemble(rng, s), impression, portable=True)


def sc_pacemaker(ctx: Ctx) -> Study:
    rng = ctx.rng
    device = pick(
        rng,
        [
            "A left chest wall dual-chamber pacemaker is present with leads terminating in the right atrium and right ventricle.",
            "A right-sided pacemaker with a single lead in the right ventricle.",
            "A left-sided implantable cardioverter-defibrillator with leads in expected position.",
            "Left pectoral biventricular ICD with leads in the right atrium, right ventricle, and coronary sinus.",
            "A left chest wall pacemaker generator; the right ventricular lead tip is at the apex.",
        ],
    )
    s = Slots(devices=[device])
    enlarged = chance(rng, 0.4)
    if enlarged:
        s.heart = [
            pick(rng, ["Mild cardiomegaly is stable." if ctx.prior else "Mild cardiomegaly.", "The heart is mildly enlarged."])
        ]
    if ctx.visit == 0 and chance(rng, 0.3):
        s.ptx = ["No pneumothorax after device placement."]
    impression = [
        pick(
            rng,
            [
                "Pacemaker leads in expected position. No pneumothorax.",
                "Cardiac device in place. No acute cardiopulmonary process.",
                "Intact pacing leads in satisfactory position.",
            ],
        )
    ]
    if enlarged:
        impression.append("Mild cardiomegaly.")
    indication = pick(
        rng,
        [
            "Status post pacemaker placement.",
            "Syncope, history of pacemaker.",
            "ICD placement, rule out pneumothorax.",
            "Lead check.",
        ],
    )
    return Study(indication, assemble(rng, s), impression)


RIBS = ["3rd", "4th", "5th", "6th", "7th", "8th", "9th"]


def sc_trauma(ctx: Ctx) -> Study:
    rng = ctx.rng
    side = ctx.memory.setdefault("side", pick(rng, ["right", "left"]))
    s = Slots()
    variant = rng.randrange(5)
    impression: list[str] = []
    if variant == 0:
        i = rng.randrange(len(RIBS) - 2)
        s.bones = [f"Acute fractures of the {side} {RIBS[i]} through {RIBS[i + 2]} ribs laterally."]
        impression.append(f"Acute {side} {RIBS[i]} through {RIBS[i + 2]} rib fractures.")
    elif variant == 1:
        r = pick(rng, RIBS)
        s.bones = [f"Nondisplaced fracture of the {side} {r} posterior rib."]
        impression.append(f"Nondisplaced {side} {r} rib fracture.")
    elif variant == 2:
        r = pick(rng, RIBS)
        s.bones = [
            f"Possible nondisplaced fracture of the {side} {r} rib; a dedicated rib series could be obtained if clinically indicated."
        ]
        impression.append(f"Possible {side} {r} rib fracture.")
    elif variant == 3:
        s.bones = [
            f"There is a mildly displaced fracture of the mid {side} clavicle.",
            "No rib fracture is identified.",
        ]
        impression.append(f"{cap(side)} midshaft clavicle fracture.")
    else:
        s.bones = [
            "No acute displaced rib fracture is identified.",
            "Old healed fractures of the left posterior 7th and 8th ribs.",
        ]
        impression.append("No acute fracture. Old healed left rib fractures.")
    if variant in (0, 1) and chance(rng, 0.5):
        s.ptx = [pick(rng, [f"Small {side} apical pneumothorax.", f"Small {side} pneumothorax with a 1 cm apical pleural line."])]
        impression.append(f"Small {side} pneumothorax.")
    if variant == 0 and chance(rng, 0.5):
        s.lungs = [f"Patchy opacity in the {side} mid lung may represent pulmonary contusion."]
        impression.append("Possible pulmonary contusion.")
    if chance(rng, 0.4):
        s.mediastinum = ["The mediastinum is not widened."]
    if chance(rng, 0.2):
        s.other = ["Mild compression deformity of a mid thoracic vertebral body, age indeterminate."]
        impression.append("Thoracic compression deformity of indeterminate age.")
    if chance(rng, 0.3):
        s.other = s.other + ["Subcutaneous emphysema along the lateral chest wall." if s.ptx else "No subcutaneous emphysema."]
    indication = pick(
        rng,
        [
            "Motor vehicle collision.",
            f"Fall with {side}-sided chest wall pain.",
            "Trauma, evaluate for rib fracture.",
            "Assault, chest wall tenderness.",
            "Bicycle accident.",
        ],
    )
    return Study(indication, assemble(rng, s), impression, portable=chance(rng, 0.5), urgent=bool(s.ptx))


def sc_nodule(ctx: Ctx) -> Study:
    rng = ctx.rng
    side, lobe = (ctx.memory["side"], ctx.memory["lobe"]) if "lobe" in ctx.memory else rng.choice(LOBES)
    ctx.memory.update(side=side, lobe=lobe)
    s = Slots()
    variant = rng.randrange(6)
    if ctx.prior and chance(rng, 0.6):
        variant = 6
    size = pick(rng, ["8 mm", "1.1 cm", "1.4 cm", "2 cm"])
    if variant == 0:
        s.lungs = [f"A {size} nodule is present in the {lobe}.", "The lungs are otherwise clear."]
        impression = [f"{size} {lobe} nodule. CT chest is recommended for further characterization."]
    elif variant == 1:
        s.lungs = [f"There is a 3.5 cm spiculated mass in the {lobe}."]
        s.mediastinum = [f"{cap(side)} hilar fullness may represent adenopathy."]
        impression = [
            f"Spiculated {lobe} mass, highly suspicious for malignancy.",
            "Possible ipsilateral hilar adenopathy.",
            "Recommend contrast-enhanced chest CT.",
        ]
    elif variant == 2:
        s.lungs = [
            f"A rounded opacity projecting over the {side} lower chest may represent a nipple shadow.",
            "Repeat frontal radiograph with nipple markers is suggested.",
        ]
        impression = [f"Possible {side} lower lung nodule versus nipple shadow; repeat with nipple markers."]
    elif variant == 3:
        s.lungs = ["Multiple bilateral pulmonary nodules of varying sizes, the largest measuring 2.2 cm in the left lower lobe."]
        impression = ["Multiple bilateral pulmonary nodules, consistent with metastatic disease."]
    elif variant == 4:
        s.lungs = [
            f"A cavitary lesion with a thick irregular wall is present in the {lobe}.",
            "No air-fluid level.",
        ]
        impression = [f"Cavitary {lobe} lesion; differential includes malignancy and infection such as tuberculosis."]
    elif variant == 5:
        s.lungs = [
            f"Nodular opacity in the {lobe}, which could represent a pulmonary nodule or overlapping vessels.",
        ]
        impression = [f"Possible {lobe} nodule. Consider chest CT."]
    else:
        s.change = [f"{comparison_change_prefix(ctx)} the known {lobe} nodule is unchanged in size."]
        s.lungs = ["No new nodules or masses are identified."]
        impression = [pick(rng, ["Stable pulmonary nodule.", f"Unchanged {lobe} nodule. No new lesion."])]
    if variant in (0, 5) and chance(rng, 0.4):
        s.other = ["No suspicious osseous lesion."]
    indication = pick(
        rng,
        [
            "Hemoptysis.",
            "Former smoker, weight loss.",
            "Abnormal CT, follow-up nodule.",
            "History of colon cancer, staging.",
            "Cough.",
            "History of lung cancer, surveillance.",
        ],
    )
    return Study(indication, assemble(rng, s), impression)


def sc_pneumothorax(ctx: Ctx) -> Study:
    rng = ctx.rng
    side = ctx.memory.setdefault("side", pick(rng, ["right", "left"]))
    s = Slots()
    urgent = True
    if ctx.prior:
        s.devices = [f"A {side} apical chest tube is in place."] if chance(rng, 0.7) else []
        out = pick(rng, ["resolved", "smaller", "unchanged"])
        s.ptx = [
            {
                "resolved": f"{comparison_change_prefix(ctx)} the {side} pneumothorax has resolved.",
                "smaller": f"{comparison_change_prefix(ctx)} the {side} pneumothorax has decreased in size, now small.",
                "unchanged": f"{comparison_change_prefix(ctx)} there is a persistent small {side} apical pneumothorax.",
            }[out]
        ]
        impression = [
            {
                "resolved": f"Resolved {side} pneumothorax.",
                "smaller": f"Decreasing {side} pneumothorax.",
                "unchanged": f"Stable small {side} pneumothorax.",
            }[out]
        ]
        if s.devices:
            impression.append(f"{cap(side)} chest tube in place.")
        urgent = False
        indication = pick(rng, ["Follow-up pneumothorax.", "Chest tube on water seal.", "Pneumothorax, status post chest tube."])
    else:
        variant = rng.randrange(5)
        if variant == 0:
            s.ptx = [f"There is a moderate {side} pneumothorax without mediastinal shift."]
            impression = [f"Moderate {side} pneumothorax."]
        elif variant == 1:
            s.ptx = [f"A small {side} apical pneumothorax is present."]
            impression = [f"Small {side} apical pneumothorax."]
        elif variant == 2:
            s.ptx = [f"Large {side} pneumothorax with complete collapse of the {side} lung."]
            s.mediastinum = [f"The mediastinum is shifted toward the {other_side(side)}, concerning for tension physiology."]
            impression = [f"Large {side} pneumothorax with mediastinal shift, concerning for tension pneumothorax."]
        elif variant == 3:
            s.ptx = [
                f"A thin pleural line at the {side} apex may represent a small pneumothorax; a skin fold is also possible.",
            ]
            impression = [f"Possible small {side} apical pneumothorax. Repeat expiratory view could be obtained."]
        else:
            s.ptx = [f"A small {side} pneumothorax is noted following the lung biopsy."]
            s.lungs = [f"Mild hazy opacity at the biopsy site in the {side} upper lobe, likely hemorrhage."]
            impression = [f"Small post-procedural {side} pneumothorax."]
        indication = pick(
            rng,
            [
                "Sudden onset chest pain and dyspnea.",
                "Tall thin man with pleuritic chest pain.",
                "Status post CT-guided lung biopsy.",
                "Shortness of breath, rule out pneumothorax.",
            ],
        )
    return Study(indication, assemble(rng, s), impression, urgent=urgent)


def sc_pleural_other(ctx: Ctx) -> Study:
    rng = ctx.rng
    variant = rng.randrange(4)
    s = Slots()
    if variant == 0:
        s.pleura = ["Bilateral partially calcified pleural plaques along the diaphragm and lateral chest walls."]
        impression = ["Calcified pleural plaques, consistent with prior asbestos exposure. No acute process."]
        indication = "Former shipyard worker, dyspnea."
    elif variant == 1:
        s.pleura = [f"Right apical pleural thickening{' is unchanged,' if ctx.prior else ','} likely scarring."]
        impression = [f"{'Stable right' if ctx.prior else 'Right'} apical pleural thickening. No acute cardiopulmonary process."]
        indication = pick(rng, ["Cough.", "Annual follow-up."])
    elif variant == 2:
        s.pleura = [
            "Blunting of the left costophrenic angle likely represents pleural thickening or scarring rather than effusion."
        ]
        impression = ["Left costophrenic angle blunting, likely pleural thickening; small effusion is less likely."]
        indication = "Prior left empyema."
    else:
        side = pick(rng, ["right", "left"])
        s.pleura = [f"Smooth pleural thickening along the {side} lateral chest wall, possibly related to prior pleurodesis."]
        impression = [f"{cap(side)} pleural thickening, likely post-procedural."]
        indication = "History of recurrent pneumothorax, status post pleurodesis."
    s.ptx = ["No pneumothorax."] if chance(rng, 0.5) else None
    return Study(indication, assemble(rng, s), impression)


def sc_opacity(ctx: Ctx) -> Study:
    rng = ctx.rng
    variant = rng.randrange(5)
    s = Slots()
    if variant == 0:
        s.lungs = ["Patchy bibasilar opacities, likely atelectasis.", "Aspiration is not excluded."]
        impression = ["Bibasilar opacities, likely atelectasis; aspiration not excluded."]
        indication = "Witnessed aspiration event."
    elif variant == 1:
        s.lungs = ["Streaky left basilar opacity could reflect atelectasis or aspiration."]
        impression = ["Streaky left basilar opacity, atelectasis versus aspiration."]
        indication = "Vomiting, possible aspiration."
    elif variant == 2:
        s.lungs = [
            "Increased interstitial markings bilaterally, which may represent chronic interstitial lung disease or atypical infection.",
            "No confluent consolidation.",
        ]
        impression = [
            "Bilateral interstitial opacities; comparison with prior imaging or CT would help distinguish chronic from acute disease."
        ]
        indication = "Progressive dyspnea."
    elif variant == 3:
        s.lungs = ["Hazy opacity in the right lower lung, which may be due to overlying soft tissue."]
        impression = [
            "Hazy right lower lung opacity, possibly related to soft tissue, though cannot exclude developing pneumonia."
        ]
        indication = pick(rng, ["Cough.", "Rule out pneumonia."])
    else:
        s.lungs = ["Linear opacities at the lung bases are consistent with subsegmental atelectasis or scarring."]
        impression = ["Bibasilar linear atelectasis or scarring. No focal consolidation."]
        indication = pick(rng, ["Postoperative fever.", "Abdominal pain."])
    return Study(indication, assemble(rng, s), impression)


def sc_terse(ctx: Ctx) -> Study:
    rng = ctx.rng
    line = pick(
        rng,
        [
            "No acute cardiopulmonary process.",
            "No acute cardiopulmonary process.",
            "Normal chest.",
            "No acute intrathoracic abnormality.",
            "Lungs clear. No effusion or pneumothorax. Heart size normal.",
            "No pneumothorax.",
            "Clear lungs, no effusion.",
            "Unremarkable chest radiograph.",
            "No radiographic evidence of pneumonia.",
        ],
    )
    if ctx.prior and chance(rng, 0.3):
        line = pick(rng, ["Stable chest. Lines and tubes unchanged.", "No significant change from the prior study."])
    return Study("", [], [line], layout_hint="terse")


def sc_long(ctx: Ctx) -> Study:
    """Ten or more sentences: a complicated inpatient study."""
    rng = ctx.rng
    dev_f, dev_i = devices_icu(rng)
    side = pick(rng, ["right", "left"])
    s = Slots(devices=dev_f)
    prior = ctx.prior is not None
    s.heart = [
        pick(rng, ["The heart is moderately enlarged.", "Cardiomegaly is unchanged." if prior else "Moderate cardiomegaly."])
    ]
    s.mediastinum = ["The mediastinal contours are unremarkable aside from calcification of the aortic knob."]
    s.lungs = [
        "There is mild pulmonary vascular congestion with interstitial edema.",
        f"Dense retrocardiac opacity {'persists and ' if prior else ''}likely reflects atelectasis, although superimposed pneumonia cannot be excluded.",
        f"Patchy opacity in the {side} mid lung zone {'is new and ' if prior else ''}may represent aspiration or early infection.",
        "No pulmonary nodules are identified.",
    ]
    s.pleura = [
        f"Moderate {other_side(side)} and small {side} pleural effusions are present, with layering on this semi-upright study."
    ]
    s.ptx = ["There is no pneumothorax."]
    s.bones = ["No acute fracture.", "Degenerative changes of the thoracic spine."]
    s.other = ["Gaseous distension of the stomach is partially imaged."]
    if ctx.prior:
        s.change = [f"{comparison_change_prefix(ctx)} there has been slight worsening of aeration at both bases."]
    impression = dev_i + [
        "Cardiomegaly with mild pulmonary edema" + (", slightly worse." if prior else "."),
        f"Moderate {other_side(side)} and small {side} pleural effusions.",
        "Retrocardiac opacity, atelectasis versus pneumonia.",
        f"{'New ' if prior else ''}{cap(side) if not prior else side} mid lung opacity, possibly aspiration.",
    ]
    indication = pick(
        rng,
        [
            "___-year-old man with sepsis, hypoxic respiratory failure. Evaluate interval change.",
            "Intubated patient with fever and worsening oxygenation.",
            "ICU patient with increasing secretions.",
        ],
    )
    return Study(indication, assemble(rng, s), impression, portable=True, layout_hint="long")


def sc_long_normal(ctx: Ctx) -> Study:
    """A long, thorough normal report (one sentence per structure)."""
    rng = ctx.rng
    findings = [
        "PA and lateral views of the chest were obtained."
        if chance(rng, 0.5)
        else "Frontal and lateral radiographs of the chest are provided.",
        "The lungs are well expanded.",
        "There is no focal consolidation.",
        "There is no pulmonary edema.",
        "No suspicious pulmonary nodule or mass is seen.",
        "There is no pleural effusion.",
        "There is no pneumothorax.",
        "The heart size is normal.",
        "The mediastinal and hilar contours are normal.",
        "The trachea is midline.",
        "No free air is seen beneath the diaphragm.",
        "The visualized osseous structures show no acute fracture.",
    ]
    findings += incidental(rng)
    return Study(
        pick(rng, DECOY_INDICATIONS),
        findings,
        [pick(rng, NORMAL_IMPRESSIONS)],
        layout_hint="long",
    )


Scenario = Callable[[Ctx], Study]

# (scenario, weight for a patient's first study, follow-up interval in days (lo, hi))
SCENARIOS: dict[str, tuple[Scenario, int, tuple[int, int]]] = {
    "normal": (sc_normal, 22, (90, 900)),
    "normal_incidental": (sc_normal_incidental, 9, (120, 900)),
    "copd": (sc_copd, 6, (60, 600)),
    "chf": (sc_chf, 10, (2, 120)),
    "cardiomegaly": (sc_cardiomegaly, 6, (90, 700)),
    "mediastinum": (sc_mediastinum, 4, (1, 30)),
    "pneumonia": (sc_pneumonia, 11, (10, 60)),
    "effusion": (sc_effusion, 8, (1, 45)),
    "icu": (sc_icu, 8, (1, 3)),
    "postop": (sc_postop, 5, (1, 4)),
    "pacemaker": (sc_pacemaker, 4, (1, 400)),
    "trauma": (sc_trauma, 6, (1, 30)),
    "nodule": (sc_nodule, 6, (60, 365)),
    "pneumothorax": (sc_pneumothorax, 5, (1, 3)),
    "pleural_other": (sc_pleural_other, 3, (180, 700)),
    "opacity": (sc_opacity, 5, (3, 60)),
    "terse": (sc_terse, 5, (1, 400)),
    "long": (sc_long, 3, (1, 3)),
    "long_normal": (sc_long_normal, 2, (180, 700)),
}

# Scenarios a patient may move to at a follow-up (otherwise the same scenario repeats).
FOLLOW_UP_SHIFT = {
    "icu": ["icu", "icu", "long", "terse"],
    "postop": ["postop", "postop", "normal", "terse"],
    "pneumonia": ["pneumonia", "pneumonia", "pneumonia", "normal"],
    "chf": ["chf", "chf", "cardiomegaly"],
    "trauma": ["trauma", "normal"],
    "long": ["long", "icu", "icu"],
}


# --------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------


def _comparison(ctx: Ctx, mimic: bool) -> str:
    rng = ctx.rng
    if ctx.prior is None:
        return pick(rng, NO_PRIOR_COMPARISON)
    if mimic and chance(rng, 0.5):
        return pick(rng, ["___.", "Chest radiograph from ___.", "Prior chest radiographs ___ through ___."])
    return pick(
        rng,
        [
            f"{ctx.prior}.",
            f"Chest radiograph from {ctx.prior}.",
            f"Prior study of {ctx.prior}.",
            f"PA and lateral chest radiograph of {ctx.prior}.",
            f"Portable chest radiograph {ctx.prior}.",
        ],
    )


def _exam(study: Study, rng: random.Random) -> tuple[str, str]:
    if study.portable:
        return "CHEST (PORTABLE AP)", pick(
            rng,
            [
                "Portable semi-upright AP view of the chest.",
                "Single portable AP view of the chest.",
                "Supine portable AP radiograph of the chest.",
            ],
        )
    if chance(rng, 0.2):
        return "CHEST (SINGLE VIEW)", "Single frontal view of the chest."
    return "CHEST (PA AND LAT)", pick(rng, ["PA and lateral views of the chest.", "Chest PA and lateral."])


def _wrap(text: str, width: int = 74) -> str:
    return "\n".join(" " + line for line in textwrap.wrap(text, width=width))


def layout_openi(study: Study, ctx: Ctx) -> str:
    rng = ctx.rng
    ind_head = pick(rng, ["INDICATION", "INDICATION", "HISTORY", "CLINICAL HISTORY", "REASON FOR EXAM"])
    imp_head = pick(rng, ["IMPRESSION", "IMPRESSION", "IMPRESSION", "CONCLUSION"])
    lines = []
    if chance(rng, 0.3):
        lines.append(f"EXAM: {'Chest, portable AP' if study.portable else 'Chest, 2 views, PA and lateral'}")
    if study.indication:
        lines.append(f"{ind_head}: {study.indication}")
    lines.append(f"COMPARISON: {_comparison(ctx, mimic=False)}")
    lines.append(f"FINDINGS: {' '.join(study.findings)}")
    lines.append(f"{imp_head}: {' '.join(study.impression)}")
    return "\n".join(lines)


def layout_numbered(study: Study, ctx: Ctx) -> str:
    rng = ctx.rng
    lines = []
    if study.indication:
        lines.append(f"{pick(rng, ['INDICATION', 'HISTORY'])}: {study.indication}")
    lines.append(f"COMPARISON: {_comparison(ctx, mimic=False)}")
    lines.append(f"FINDINGS: {' '.join(study.findings)}")
    lines.append("")
    lines.append("IMPRESSION:")
    if len(study.impression) == 1 and chance(rng, 0.5):
        lines.append(study.impression[0])
    else:
        for n, item in enumerate(study.impression, 1):
            lines.append(f"{n}. {item}")
    return "\n".join(lines)


def layout_mimic(study: Study, ctx: Ctx) -> str:
    rng = ctx.rng
    exam, technique = _exam(study, rng)
    parts = [
        "                                 FINAL REPORT",
        f" EXAMINATION:  {exam}",
        " ",
        f" INDICATION:  {study.indication or '___'}",
        " ",
        f" TECHNIQUE:  {technique}",
        " ",
        f" COMPARISON:  {_comparison(ctx, mimic=True)}",
        " ",
        " FINDINGS:",
        " ",
        _wrap(" ".join(study.findings)),
        " ",
        " IMPRESSION:",
        " ",
    ]
    if len(study.impression) > 1 and chance(rng, 0.5):
        parts.append("\n".join(_wrap(f"{n}. {item}") for n, item in enumerate(study.impression, 1)))
    else:
        parts.append(_wrap(" ".join(study.impression)))
    if study.urgent and chance(rng, 0.8):
        parts += [
            " ",
            _wrap(
                pick(
                    rng,
                    [
                        "NOTIFICATION:  The findings were discussed with Dr. ___ by telephone at ___ on ___, within minutes of discovery.",
                        "NOTIFICATION:  Dr. ___ was paged and the findings were communicated at ___.",
                    ],
                )
            ),
        ]
    return "\n".join(parts)


def layout_plain(study: Study, ctx: Ctx) -> str:
    """No headings at all: findings then impression as one paragraph."""
    body = list(study.findings)
    if study.impression and study.impression[0] not in body:
        body.append(study.impression[0])
    return " ".join(body)


def layout_findings_impression(study: Study, ctx: Ctx) -> str:
    rng = ctx.rng
    prior = f"Comparison is made to {ctx.prior}. " if ctx.prior else ""
    if study.portable:
        header = pick(rng, ["Portable AP chest.", "Chest, single portable view."])
    else:
        header = pick(rng, ["Chest PA and lateral.", "Chest, two views.", "Chest radiograph."])
    return f"{header}\n{prior}{' '.join(study.findings)}\nIMPRESSION: {' '.join(study.impression)}"


LAYOUTS: list[tuple[Callable[[Study, Ctx], str], int]] = [
    (layout_openi, 34),
    (layout_mimic, 34),
    (layout_numbered, 14),
    (layout_plain, 9),
    (layout_findings_impression, 9),
]


def render(study: Study, ctx: Ctx) -> str:
    if study.layout_hint == "terse":
        return study.impression[0]
    funcs = [f for f, _ in LAYOUTS]
    weights = [w for _, w in LAYOUTS]
    if study.layout_hint == "long":
        funcs, weights = [layout_openi, layout_mimic, layout_numbered], [1, 1, 1]
    layout = ctx.rng.choices(funcs, weights=weights)[0]
    return layout(study, ctx)


# --------------------------------------------------------------------------------------
# Patients, dates, output
# --------------------------------------------------------------------------------------


def generate(seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    names = list(SCENARIOS)
    first_weights = [SCENARIOS[n][1] for n in names]
    start = dt.date(2014, 1, 1)
    rows: list[tuple[dt.date, str, str]] = []  # (date, patient_id, text)
    for p in range(1, N_PATIENTS + 1):
        patient_id = f"DP{p:04d}"
        n_studies = rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0]
        scenario = rng.choices(names, weights=first_weights)[0]
        date = start + dt.timedelta(days=rng.randrange(0, 365 * 8))
        memory: dict[str, str] = {}
        prior: str | None = None
        for visit in range(n_studies):
            if visit > 0:
                lo, hi = SCENARIOS[scenario][2]
                date = date + dt.timedelta(days=rng.randint(lo, hi))
                scenario = rng.choice(FOLLOW_UP_SHIFT.get(scenario, [scenario]))
            ctx = Ctx(rng=rng, prior=prior, visit=visit, memory=memory)
            study = SCENARIOS[scenario][0](ctx)
            rows.append((date, patient_id, render(study, ctx)))
            prior = date.isoformat()
    # Ids follow study date (then patient), like an accession sequence.
    rows.sort(key=lambda r: (r[0], r[1]))
    return [
        {"id": f"DEMO-{i:04d}", "patient_id": pid, "study_date": d.isoformat(), "Reports": text}
        for i, (d, pid, text) in enumerate(rows, 1)
    ]


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    rows = generate()
    if len(rows) < MIN_REPORTS:
        raise SystemExit(f"only {len(rows)} reports generated; expected at least {MIN_REPORTS}")
    write_csv(rows, out)
    print(f"wrote {len(rows)} reports to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
