"""Reports, labels, the rule labeler and metrics.

This package's own modules `observations`, `sections`, `report_files`, `metrics`
and the `rules` subpackage are plain Python (no Django), so the model code and
command-line tools can import them without a configured Django project.
"""
