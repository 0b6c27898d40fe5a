"""The GPU benchmark's carried vocabulary reproduces the bundled tokenizer on its reports.

(The benchmark itself measures and is run by hand: `python bench/gpu/bench_model_gpu.py
--tiny` checks it on CPU.)
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from transformers import AutoTokenizer, BertTokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_bench_module():
    spec = importlib.util.spec_from_file_location("bench_model_gpu", REPO_ROOT / "bench" / "gpu" / "bench_model_gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_carried_vocab_tokenizes_like_bert_base_uncased(tmp_path: Path) -> None:
    from labeling.sections import text_for_mode
    from ml_worker.ml.modeling import default_encoder_path

    bench = load_bench_module()
    shutil.copy(bench.VOCAB, tmp_path / "vocab.txt")
    carried = BertTokenizer.from_pretrained(tmp_path, do_lower_case=True)
    full = AutoTokenizer.from_pretrained(default_encoder_path(), local_files_only=True)
    reports = [text_for_mode(r, "auto") for r in bench.synthetic_reports(300, seed=11)]
    assert [carried.tokenize(r) for r in reports] == [full.tokenize(r) for r in reports]
    assert len(bench.VOCAB.read_text().splitlines()) < 1000
