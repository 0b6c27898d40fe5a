"""Django-free model code for chexgold: a CheXbert-style BERT labeler.

Modules: `config` (TrainingConfig), `modeling` (ChexbertModel), `data`
(labels <-> targets, batching), `train` (train_model), `predict` (Predictor),
`checkpoints` (save/load our checkpoint directories), `chexbert` (the original
CheXbert weights), `augment` (named text augmenters).

Imports neither Django nor `labeling.rules`; depends only on
`labeling.observations`, `labeling.sections` and (for validation)
`labeling.metrics`. Submodules are imported on demand so that importing this
package does not import torch.
"""
