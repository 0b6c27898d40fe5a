"""Django-free model code for chexgold: a CheXbert-style BERT labeler.

Imports neither Django nor `labeling.rules`; depends only on
`labeling.observations`, `labeling.sections` and (for validation scores)
`quality.metrics`. Submodules are imported on demand, so importing this
package does not import torch.

Entry points:

- `config.TrainingConfig` — typed training options (`validate()`, `to_dict()`,
  `from_dict()`).
- `train.train_model(config, train_examples, val_examples, *, output_dir,
  init_from=None, chexbert_config_dir=None, parent_version=None,
  data_provenance=None, progress_callback=None, should_stop=None,
  resume_state_dir=None, resume_from=None)
  -> train.TrainingResult`; progress arrives as `train.TrainingProgress`;
  `should_stop()` returning True raises `train.TrainingCancelled`. With
  `resume_state_dir` the state of every completed epoch is saved there
  (`resume.py`); `resume_from` continues after the last one.
- `predict.Predictor.from_checkpoint(dir)` / `Predictor.from_chexbert(file,
  config_dir)` / `predict.load_predictor(path, chexbert_config_dir=...)`, then
  `predictor.predict(texts) -> list[predict.Prediction]` (`labels`,
  `probabilities`).
- `checkpoints.save_checkpoint(dir, model, tokenizer, manifest)` /
  `checkpoints.load_checkpoint(dir) -> LoadedModel`; `read_manifest(dir)`;
  errors are `checkpoints.CheckpointError`.
- `chexbert.load_chexbert_checkpoint(file, config_dir)` — the original
  CheXbert weights; `chexbert.ChexbertConfigMissing` when the bert-base config
  directory (setting CHEXGOLD_CHEXBERT_CONFIG_DIR) is absent.
- `augment.AUGMENTERS` / `register_augmenter(name)` — named text augmenters.

Examples are ``(report_text, LabelDict)`` pairs; heads and manifests use the
CheXpert column order of `labeling.observations.OBSERVATIONS`.
"""
