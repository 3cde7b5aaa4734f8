"""Fuzzing the loaders: every format the tests make, cut short, with bytes flipped or a block
zeroed. Nothing crashes, nothing runs past its time budget, every skip has a reason.

A small seeded run here (seconds); `python benchmarks/fuzz.py` runs a larger one with the OCR
formats and prints the counts."""

import pytest

from fuzz_files import fuzz

FAST_FORMATS = ["txt", "md", "html", "docx", "pdf", "pptx", "xlsx", "csv", "tsv", "epub"]


def test_mutated_files_of_every_format_load_or_are_skipped_with_a_reason(tmp_path):
    counts = fuzz(tmp_path, FAST_FORMATS, per_format=6, seed=20)
    assert counts.cases == 60
    assert counts.crashes == 0 and counts.hangs == 0, counts.examples
    assert counts.loaded + counts.skipped == counts.cases
    assert counts.skipped > 0 and counts.loaded > 0  # the mutations break some files and spare others


@pytest.mark.slow
def test_mutated_images_and_scans_load_or_are_skipped_with_a_reason(tmp_path):
    counts = fuzz(tmp_path, ["png", "jpg", "tiff"], per_format=6, seed=21)
    assert counts.crashes == 0 and counts.hangs == 0, counts.examples
