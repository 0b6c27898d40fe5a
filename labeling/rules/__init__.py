"""Rule labeler: free-text chest X-ray report -> 14 CheXpert labels with evidence.

Pure Python (stdlib only), no Django: imported by the annotator app, the model
code (silver labels) and the benchmarks. Phrase lists are data files under
``phrases/``; see README.md for the semantics and the differences from the
CheXpert labeler.
"""

from labeling.rules.labeler import RULES_VERSION, Evidence, ReportLabels, label_report, label_reports

__all__ = ["RULES_VERSION", "Evidence", "ReportLabels", "label_report", "label_reports"]
