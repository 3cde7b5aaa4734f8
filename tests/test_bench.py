"""`qa bench` runs end to end on a tiny corpus, and the ONNX query path answers exactly like torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seed_questions import ANSWERABLE, UNANSWERABLE

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "squad-v1.1" / "dev-v1.1.json").exists(), reason="benchmark data not present")


@needs_data
def test_bench_reports_every_figure_for_one_article(tmp_path):
    env = {**os.environ, "QA_EVAL_DATA": str(DATA)}
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "bench", "--sizes", "1", "--systems", "qa", "--questions", "3",
         "--cold-runs", "1", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout)
    assert row["system"] == "qa" and row["chunks"] > 10
    for key in ("chunks_per_s", "mb_per_s", "p50_ms", "p95_ms", "p99_ms", "peak_mb", "disk_mb", "cold_ask_s"):
        assert row[key] > 0, key
    assert 0 <= row["recall@5"] <= 1


def test_onnx_query_path_gives_the_same_answers_as_torch(seeds_copy, tmp_path, monkeypatch):
    from qa import Index

    fp32_index = Index(tmp_path / "index", precision="fp32")  # int8 runs on ONNX Runtime only
    fp32_index.build([seeds_copy], progress=False)
    seeds_index = Index(tmp_path / "index")
    embedder = seeds_index.embedder
    assert embedder.precision == "fp32"
    if embedder.light() is None:
        pytest.skip("no ONNX twin of the model (onnx/onnxruntime not installed)")
    questions = [q for q, _ in ANSWERABLE[:8]] + UNANSWERABLE[:2]
    light = [seeds_index.ask(q).to_dict() for q in questions]
    monkeypatch.setenv("QA_EMBED_BACKEND", "torch")
    assert embedder.light() is None
    heavy = [seeds_index.ask(q).to_dict() for q in questions]
    # The two backends' vectors differ by ~1e-7, so a score rounded to 4 decimals can land on
    # either side of a rounding boundary: scores must agree to 1e-3, everything else exactly.
    assert _without_scores(heavy) == _without_scores(light)
    for heavy_answer, light_answer in zip(heavy, light):
        assert [p["score"] for p in heavy_answer["passages"]] == pytest.approx(
            [p["score"] for p in light_answer["passages"]], abs=1e-3
        )


def _without_scores(answers: list[dict]) -> list[dict]:
    return [{**a, "passages": [{**p, "score": None} for p in a["passages"]]} for a in answers]
