"""Building: bad files are skipped and reported, failures leave the previous index answering."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa import Index, IndexIncompatible, NoSources, build
from qa.embed import Embedder

FACT_A = "The lighthouse on Gull Point was automated in 1987 after its last keeper retired."
FACT_B = "Marsh orchids flower in the water meadows of the Esk valley every June."


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "lighthouse.txt").write_text(f"Gull Point\n\n{FACT_A}\n")
    (folder / "orchids.md").write_text(f"# Orchids\n\n{FACT_B}\n")
    return folder


def test_build_indexes_folder_and_reports_counts(corpus, tmp_path, make_index):
    report = make_index(tmp_path / "ix").build([corpus], progress=False)
    assert sorted(report.added) == ["docs/lighthouse.txt", "docs/orchids.md"]
    assert report.documents == 2 and report.chunks_total >= 2
    answer = make_index(tmp_path / "ix").ask("When was the lighthouse automated?")
    assert answer.found and "1987" in answer.passages[0].answer


def test_unreadable_and_binary_files_are_reported_and_the_rest_indexed(corpus, tmp_path, make_index):
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (corpus / "empty.txt").write_text("")
    (corpus / "image.png").write_bytes(b"\x89PNG")  # a PNG cut short: read by OCR, were it whole
    (corpus / "drawing.dwg").write_bytes(b"AC1032")
    os.symlink(tmp_path / "missing.txt", corpus / "dangling.txt")
    report = make_index(tmp_path / "ix").build([corpus], progress=False)
    reasons = {p.source: p.reason for p in report.problems}
    assert "binary" in reasons["docs/binary.txt"]
    assert "empty" in reasons["docs/empty.txt"]
    assert "corrupt or unsupported image" in reasons["docs/image.png"]
    assert "unsupported file type .dwg" in reasons["docs/drawing.dwg"]
    assert "docs/dangling.txt" in reasons
    assert sorted(report.added) == ["docs/lighthouse.txt", "docs/orchids.md"]


def test_invalid_utf8_is_read_with_a_warning(corpus, tmp_path, make_index):
    (corpus / "latin.txt").write_bytes("Caf\xe9 owners in the old town open at seven every morning.".encode("latin-1"))
    report = make_index(tmp_path / "ix").build([corpus], progress=False)
    assert "docs/latin.txt" in report.added
    assert any(p.source == "docs/latin.txt" and "UTF-8" in p.reason and not p.skipped for p in report.problems)
    text = make_index(tmp_path / "ix").document_text("docs/latin.txt")
    assert "Café" in text


def test_no_sources_is_a_clear_error(tmp_path, make_index):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(NoSources, match="no documents"):
        make_index(tmp_path / "ix").build([tmp_path / "nothing"], progress=False)
    assert not make_index(tmp_path / "ix").exists()


def test_a_build_that_fails_midway_leaves_the_previous_index_answering(corpus, tmp_path, monkeypatch, make_index):
    ix = make_index(tmp_path / "ix")
    ix.build([corpus], progress=False)
    before = ix.store.current_version()
    (corpus / "new.txt").write_text("Otters returned to the river Wey in 2019 after fifty years away.")
    (corpus / "lighthouse.txt").write_text("This file was rewritten and no longer mentions the keeper.")

    def boom(self, texts, spans, progress=False):
        raise RuntimeError("embedding crashed")

    monkeypatch.setattr(Embedder, "encode_with_sentences", boom)
    with pytest.raises(RuntimeError, match="embedding crashed"):
        make_index(tmp_path / "ix").build([corpus], progress=False)
    monkeypatch.undo()

    assert ix.store.current_version() == before
    assert not list((tmp_path / "ix").glob(".tmp-*"))
    answer = make_index(tmp_path / "ix").ask("When was the lighthouse automated?")
    assert "1987" in answer.passages[0].answer
    assert make_index(tmp_path / "ix").check() == []


def test_index_built_with_another_format_is_refused_with_rebuild_advice(corpus, tmp_path):
    ix = Index(tmp_path / "ix")
    ix.build([corpus], progress=False)
    manifest = tmp_path / "ix" / ix.store.current_version() / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 999
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexIncompatible, match="qa build --full"):
        Index(tmp_path / "ix").ask("When was the lighthouse automated?")


def test_index_built_with_another_model_is_refused_with_rebuild_advice(corpus, tmp_path):
    from qa.embed import bundled_model_path

    build([corpus], tmp_path / "ix", progress=False)
    other = tmp_path / "other-minilm"
    shutil.copytree(bundled_model_path(), other)
    with pytest.raises(IndexIncompatible, match="--model"):
        Index(tmp_path / "ix", model=other).ask("When was the lighthouse automated?")


def test_an_int8_index_keeps_its_precision_and_refuses_fp32_questions(corpus, tmp_path):
    ix = Index(tmp_path / "ix", precision="int8")
    ix.build([corpus], progress=False)
    model = json.loads((tmp_path / "ix" / ix.store.current_version() / "manifest.json").read_text())["model"]
    assert model["precision"] == "int8" and model["name"].endswith("-int8")
    # Opened without a precision, the index asks with the weights it was built with, and updates with them.
    reopened = Index(tmp_path / "ix")
    assert reopened.embedder.precision == "int8"
    assert "1987" in reopened.ask("When was the lighthouse automated?").passages[0].answer
    (corpus / "orchids.md").write_text("# Orchids\n\nBee orchids flower on the chalk downs in July.\n")
    assert [s.rsplit("/", 1)[-1] for s in reopened.build([corpus], progress=False).changed] == ["orchids.md"]
    with pytest.raises(IndexIncompatible, match="--precision fp32"):
        Index(tmp_path / "ix", precision="fp32").ask("When was the lighthouse automated?")
    with pytest.raises(ValueError, match="fp32, int8"):
        Index(tmp_path / "ix", precision="int4")


def test_a_new_index_is_int8_unless_the_model_cannot_run_on_onnx_runtime(tmp_path):
    from qa.embed import bundled_model_path

    assert Index(tmp_path / "plain").embedder.precision == "int8"
    other = tmp_path / "max-pooled-minilm"
    shutil.copytree(bundled_model_path(), other)
    pooling = next(other.glob("1_Pooling*/config.json"))
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    pooling.write_text(json.dumps(config))
    assert Index(tmp_path / "other", model=other).embedder.precision == "fp32"


def test_int8_vectors_stay_close_to_fp32_ones():
    from qa.embed import Embedder

    texts = ["The lighthouse was automated in 1987 and its keepers left the island.",
             "Bee orchids flower on the chalk downs in July.", "What did Ofsted rate Kent?"]
    fp32, int8 = Embedder.shared(), Embedder.shared(precision="int8")
    assert int8.name != fp32.name
    cosines = (fp32.encode(texts) * int8.encode(texts)).sum(axis=1)
    assert cosines.min() > 0.97  # per-channel scales; one scale per tensor went as low as 0.91


def test_int8_bulk_encoding_on_parallel_sessions_gives_the_same_vectors_as_one_session():
    from qa.embed import Embedder, bundled_model_path
    from qa.onnx_embed import ParallelEncoder

    texts = [f"Sentence {i} about the lighthouse keeper. It has {i * 7} words or so, more or less." for i in range(9)]
    spans = [[(0, 39), (40, len(t))] for t in texts]
    one = Embedder.shared(precision="int8").light()
    parallel = ParallelEncoder(bundled_model_path(), "int8", workers=2)
    v1, s1 = one.encode(texts, 1, spans)
    v2, s2 = parallel.encode(texts, 1, spans)
    assert np.array_equal(v1, v2)
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))
    assert np.array_equal(parallel.encode(texts[:1], 1), one.encode(texts[:1], 1))  # fewer texts than sessions


def test_updates_replace_changed_documents_and_drop_removed_ones(corpus, tmp_path, make_index):
    ix = make_index(tmp_path / "ix")
    ix.build([corpus], progress=False)
    (corpus / "orchids.md").write_text("# Orchids\n\nBee orchids flower on the chalk downs in July.\n")
    (corpus / "lighthouse.txt").unlink()
    report = ix.build([corpus], progress=False)
    assert report.changed == ["docs/orchids.md"] and report.removed == ["docs/lighthouse.txt"]
    assert ix.check() == []
    texts = " ".join(c.text for d in ix.documents() for c in ix.snapshot().doc_chunks(d.id))
    assert "chalk downs" in texts and "Esk valley" not in texts and "Gull Point" not in texts


def test_qa_ask_answers_from_the_index_here_and_follows_its_recorded_sources(tmp_path, monkeypatch, seeds_copy):
    import qa.index
    from qa import ask

    shutil.copytree(seeds_copy, tmp_path / "seeds")
    build([tmp_path / "seeds"], tmp_path / "index", progress=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_INDEX", raising=False)
    monkeypatch.setattr(qa.index, "_default", {})
    monkeypatch.setattr(qa.index, "REFRESH_SECONDS", 0.0)
    answer = ask("Which award was the virtual school the first to receive?")
    assert answer.found and answer.passages[0].source.startswith("seeds/")

    (tmp_path / "seeds" / "extra.txt").write_text("The county archive in Maidstone holds records from 1086 onwards.")
    answer = ask("Where does the county archive keep records from 1086?")
    assert answer.passages[0].source == "seeds/extra.txt"


def test_only_qa_s_own_checkout_builds_the_demo_over_its_seeds_on_first_use(tmp_path, monkeypatch):
    from qa.settings import checkout_seeds

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    assert checkout_seeds() == Path("seeds")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "qa"\n')
    monkeypatch.chdir(tmp_path)
    assert checkout_seeds() is None  # a folder that merely holds seeds/ (and even a look-alike project)


def test_bm25_scores_with_the_index_lexical_settings_and_the_manifest_records_them(corpus, tmp_path):
    from qa.settings import LexicalSettings
    from qa.text import terms

    (corpus / "keepers.txt").write_text("Keepers\n\nThe keeper, the keeper's son and a keeper's dog kept the light.\n")
    query = terms("keeper")
    scores = {}
    for k1, b in ((0.9, 0.4), (2.0, 0.4)):
        ix = Index(tmp_path / f"ix-{k1}")
        ix.lexical = LexicalSettings(k1=k1, b=b)
        ix.build([corpus], progress=False)
        snap = ix.snapshot()
        assert snap.manifest["bm25"] == {"k1": k1, "b": b}
        positive = np.sort(snap.bm25_scores(query)[1])[::-1]
        assert positive[1] > 0  # the keepers chunk (the term three times) and the lighthouse one (once)
        scores[k1] = positive[0] / positive[1]
    # A term repeated in a chunk saturates sooner with a small k1: the scores really follow k1.
    assert scores[2.0] > scores[0.9] > 1
    assert LexicalSettings() == LexicalSettings(k1=0.9, b=0.4)


def test_bm25_re_indexed_in_memory_scores_as_a_build_with_those_settings(corpus, tmp_path):
    """`qa eval --set lexical.k1=…` measures other BM25 settings on a cached index this way."""
    from qa.settings import LexicalSettings
    from qa.text import terms

    other = LexicalSettings(k1=1.6, b=0.9)
    built = Index(tmp_path / "built", lexical=other)
    built.build([corpus], progress=False)
    swapped = Index(tmp_path / "swapped")
    swapped.build([corpus], progress=False)
    snap = swapped.snapshot()
    query = terms("When was the lighthouse on Gull Point automated?")
    before = snap.bm25_scores(query)[1]
    snap.use_bm25_params(other)
    after = snap.bm25_scores(query)[1]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, built.snapshot().bm25_scores(query)[1], rtol=1e-6)


def test_other_bm25_settings_rewrite_bm25_on_the_next_build_without_re_embedding(corpus, tmp_path):
    from qa.settings import LexicalSettings

    old = Index(tmp_path / "ix", lexical=LexicalSettings(k1=1.5, b=0.75))
    old.build([corpus], progress=False)
    ix = Index(tmp_path / "ix")
    report = ix.build([corpus], progress=False)
    assert report.version is not None and report.chunks_embedded == 0
    assert ix.snapshot().manifest["bm25"] == {"k1": 0.9, "b": 0.4}
    assert ix.snapshot()._load_bm25().k1 == 0.9
    assert ix.build([corpus], progress=False).version is None  # settled: nothing more to do


def test_bm25_built_from_term_ids_scores_every_chunk_as_bm25s_does_from_term_lists():
    """The build hands bm25s one int32 array of term ids (4 bytes a term) instead of lists of strings."""
    import bm25s

    from qa.stores.faiss import _fit_bm25

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(60)]
    rows = [(10 * i + 7, " ".join(rng.choice(words, size=rng.integers(0, 25)))) for i in range(300)]
    ids, ours = _fit_bm25(iter(rows), 0.9, 0.4)  # a cursor is read once, as this iterator
    assert ids.tolist() == [r[0] for r in rows]
    theirs = bm25s.BM25(k1=0.9, b=0.4)
    theirs.index([r[1].split() for r in rows], show_progress=False)
    assert set(ours.vocab_dict) == set(theirs.vocab_dict)
    for word in words:
        if word in theirs.vocab_dict:
            np.testing.assert_allclose(
                ours.get_scores_from_ids([ours.vocab_dict[word]]), theirs.get_scores_from_ids([theirs.vocab_dict[word]]), rtol=1e-6)
    query = ["w1", "w7", "w7", "w30"]
    np.testing.assert_allclose(
        ours.get_scores_from_ids([ours.vocab_dict[w] for w in query]),
        theirs.get_scores_from_ids([theirs.vocab_dict[w] for w in query]), rtol=1e-6)


def test_chunks_without_any_term_still_build_and_answer_from_vectors(tmp_path):
    from qa.stores.faiss import _fit_bm25

    assert _fit_bm25(iter([(1, ""), (2, "")]), 0.9, 0.4)[1] is None  # bm25s itself cannot index this
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("It is.\n\nAnd it is. Is it? It is!\n")  # stop words only: no term at all
    ix = Index(tmp_path / "ix")
    ix.build([docs], progress=False)
    assert ix.check() == []
    assert ix.snapshot()._load_bm25() is None
    assert ix.ask("is it so?").passages


def test_a_first_build_in_a_fresh_cache_prints_only_qa_s_own_lines(corpus, tmp_path):
    """The one-off ONNX export (fp32, then int8) warns about tracing and quantization, and a library
    it imports configures the root logger; a user's first `qa build` shows none of that."""
    import subprocess
    import sys

    env = {**os.environ, "QA_CACHE": str(tmp_path / "fresh-cache"), "QA_INDEX": ""}
    done = subprocess.run([sys.executable, "-m", "qa.cli", "build", str(corpus), "--index", str(tmp_path / "ix")],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "fresh-cache").rglob("*int8*.onnx"))  # the export did run here
    noise = [line for line in (done.stdout + done.stderr).splitlines()
             if any(w in line for w in ("Warning", "WARNING", "DEBUG", "INFO:"))]
    assert noise == []
    assert "2 documents" in done.stdout
