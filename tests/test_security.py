"""Nothing a source or a visitor supplies is executed: no pickle, checked uploads, loopback by
default, and no source text or question rendered as HTML."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qa import Index

ROOT = Path(__file__).resolve().parent.parent
RIVER = "River notes\n\nThe river Wenn flows north through the valley of Ash.\n"
RIVER_Q = "Which way does the river Wenn flow?"


# -- no pickle ------------------------------------------------------------------------------------

def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            yield name, {k.arg: ast.unparse(k.value) for k in node.keywords}, node


def test_the_package_never_unpickles():
    unsafe_modules = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
    found = []
    for path in sorted((ROOT / "qa").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{path.name}: import {a.name}" for a in node.names if a.name.split(".")[0] in unsafe_modules]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in unsafe_modules:
                found.append(f"{path.name}: from {node.module} import")
        for name, kw, node in calls(tree):
            where = f"{path.name}:{node.lineno} {name}"
            if name.endswith(("np.load", "numpy.load")) and kw.get("allow_pickle") != "False":
                found.append(f"{where} without allow_pickle=False")
            if name.endswith("BM25.load") and kw.get("allow_pickle") != "False":
                found.append(f"{where} without allow_pickle=False")
            if name.endswith("torch.load") and kw.get("weights_only") != "True":
                found.append(f"{where} without weights_only=True")
            if name in ("eval", "exec") or kw.get("trust_remote_code") == "True" or name.endswith("read_pickle"):
                found.append(where)
    assert found == []


class Plant:
    """Unpickling this creates `marker`: proof that something read a planted pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def plant_npy(path: Path, marker: Path) -> None:
    with open(path, "wb") as fh:  # keep the name: np.save would append .npy to a name without it
        np.save(fh, np.array([Plant(marker)], dtype=object), allow_pickle=True)


@pytest.fixture
def tiny(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "river.txt").write_text(RIVER)
    Index(tmp_path / "index").build([docs], progress=False)
    return tmp_path


def use(index_path: Path):
    """Everything that reads an index: open, ask, list, check, update."""
    ix = Index(index_path)
    outcomes = []
    for action in (lambda: ix.ask(RIVER_Q), ix.documents, ix.stats, ix.check, ix.update):
        try:
            outcomes.append(action())
        except Exception as e:  # refusing a tampered file is fine; running it is not
            outcomes.append(e)
    return outcomes


def test_pickles_planted_where_a_careless_loader_would_look_are_never_run(tiny):
    index = tiny / "index"
    version = index / (index / "CURRENT").read_text().strip()
    marker = tiny / "PWNED"
    for f in [version / "bm25_ids.npy", *sorted((version / "bm25").glob("*.npy"))]:
        plant_npy(f, marker)
    for name in ["index.pkl", "vectors.pkl", "bm25.pkl", "bm25/retriever.pkl", "bm25/corpus.pkl", "model.pkl",
                 "chunks.pkl", "embeddings.pkl", "vectors.npy", "embeddings.npy", "index.joblib", "pytorch_model.bin"]:
        (version / name).parent.mkdir(exist_ok=True)
        plant_npy(version / name, marker)
        shutil.copyfile(version / name, index / Path(name).name)
    outcomes = use(index)
    assert not marker.exists()
    assert any(isinstance(o, Exception) for o in outcomes)  # the tampered arrays were refused, not run
    assert "pickle" in " ".join(str(o) for o in outcomes if isinstance(o, Exception)).lower()


def test_a_pickle_in_the_embedding_cache_is_never_run(tiny):
    import pickle

    index = tiny / "index"
    marker = tiny / "PWNED"
    db = sqlite3.connect(index / "embeddings.sqlite")
    db.execute("UPDATE vectors SET vector = ?", (pickle.dumps(Plant(marker)),))
    db.commit()
    db.close()
    (tiny / "docs" / "river.txt").write_text(RIVER + "\nThe valley of Ash is green.\n")
    ix = Index(index)
    ix.build([tiny / "docs"], full=True, progress=False)  # cached vectors are read back as raw float32 bytes
    assert not marker.exists() and ix.check() == [] and ix.ask(RIVER_Q).found


def test_a_faiss_file_replaced_by_a_pickle_is_refused_not_run(tiny):
    index = tiny / "index"
    version = index / (index / "CURRENT").read_text().strip()
    marker = tiny / "PWNED"
    plant_npy(version / "vectors.faiss", marker)
    outcomes = use(index)
    assert not marker.exists() and all(isinstance(o, Exception) for o in outcomes[:4])


def test_a_manifest_pointing_at_a_model_with_pickled_weights_never_runs_them(tiny):
    from qa.embed import bundled_model_path

    index = tiny / "index"
    version = index / (index / "CURRENT").read_text().strip()
    marker = tiny / "PWNED"
    model = tiny / "evil-model"
    shutil.copytree(bundled_model_path(), model)
    (model / "model.safetensors").unlink()  # only pickled weights left
    plant_npy(model / "pytorch_model.bin", marker)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["model"]["path"] = str(model)
    (version / "manifest.json").write_text(json.dumps(manifest))
    outcomes = use(index)
    assert not marker.exists()
    assert "weights only load failed" in str(outcomes[0]).lower()  # torch refused the pickled weights


# -- uploads --------------------------------------------------------------------------------------

def test_uploads_are_checked_for_size_type_and_path(tiny, tmp_path):
    from qa.web.uploads import Uploads

    docs, index = tiny / "docs", tiny / "index"
    outside = tmp_path / "outside"
    outside.mkdir()
    (docs / "trap.txt").symlink_to(outside / "target.txt")  # a name in the folder that points out of it
    good = tmp_path / "good.txt"
    good.write_text("Plain notes about the harbour festival held every May.\n")
    binary = tmp_path / "fake.txt"
    binary.write_bytes(bytes(range(256)) * 20)
    exe = tmp_path / "fake.pdf"
    exe.write_bytes(b"MZ\x90\x00" + os.urandom(2000))
    big = tmp_path / "big.txt"
    big.write_text("word " * 5000)
    link = tmp_path / "link.txt"
    link.symlink_to("/etc/hostname")
    before = sorted(p.name for p in docs.iterdir()), (index / "CURRENT").read_text()
    cases = [
        (good, "../escaped.txt"), (good, "/tmp/absolute.txt"), (good, "sub/dir.txt"), (good, "..\\win.txt"),
        (good, "nul\x00.txt"), (good, ".hidden.txt"), (good, "x" * 300 + ".txt"), (good, "script.py"),
        (good, "trap.txt"), (binary, "fake.txt"), (exe, "fake.pdf"), (big, "big.txt"), (link, "link.txt"),
    ]
    messages = Uploads(Index(index), docs, max_bytes=10_000).add(cases)
    assert len(messages) == len(cases) and all("rejected" in m for m in messages), messages
    assert (sorted(p.name for p in docs.iterdir()), (index / "CURRENT").read_text()) == before
    assert list(outside.iterdir()) == [] and not (tiny / "escaped.txt").exists() and not Path("/tmp/absolute.txt").exists()


# -- serving --------------------------------------------------------------------------------------

def listening_addresses(port: int) -> set[str]:
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":  # LISTEN
                out.add(addr)
    return out


def test_the_server_binds_loopback_by_default(tiny):
    import inspect

    from qa.cli import serve as serve_command
    from qa.web import launch, make_app, serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve_command).parameters["host"].default.default == "127.0.0.1"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = make_app(Index(tiny / "index"), tiny / "docs")
    served = launch(demo, port=port, block=False, quiet=True)
    try:
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
    finally:
        served.close()


@pytest.mark.parametrize("args, warned", [([], False), (["--host", "0.0.0.0"], True),
                                          (["--host", "0.0.0.0", "--auth", "ann:secret"], False),
                                          (["--host", "::1"], False)])
def test_serving_beyond_loopback_without_auth_warns(tiny, monkeypatch, args, warned):
    import qa.web.server

    seen = {}

    def fake_launch(demo, host, port, auth, limit, block, quiet, **api):
        seen.update(host=host, auth=auth)
        raise SystemExit(0)  # stop before binding anything

    monkeypatch.setattr(qa.web.server, "launch", fake_launch)
    from qa.cli import app

    result = CliRunner().invoke(app, ["serve", "--index", str(tiny / "index"), "--sources", str(tiny / "docs"), *args])
    assert seen["host"] == (args[1] if args else "127.0.0.1")
    assert ("WARNING" in result.output and "without --auth" in result.output) == warned, result.output


# -- nothing rendered as HTML ---------------------------------------------------------------------

ALLOWED_TAGS = {"div", "span", "mark", "button", "ol", "li", "pre", "table", "thead", "tbody", "tr", "td", "th",
                "ul", "b", "input"}  # input: the optional comment under 👍/👎
ALLOWED_ATTRS = {"class", "id", "type", "title", "value", "placeholder", "maxlength"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def only_our_markup(html_out: str) -> str:
    parser = Tags()
    parser.feed(html_out)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, _ in attrs:
            assert name in ALLOWED_ATTRS or name.startswith("data-"), name
    return "".join(parser.text)


hostile = st.one_of(
    st.sampled_from(["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>",
                     "' onmouseover='alert(1)", "<a href=javascript:alert(1)>x</a>", "&lt;b&gt;", "<!--", "]]>",
                     "<style>*{}</style>", "<iframe src=//x>", "`${alert(1)}`"]),
    st.text(max_size=40),
)
hostile_text = st.lists(hostile, min_size=1, max_size=6).map(" ".join).filter(lambda t: t.strip())


@settings(max_examples=200, deadline=None)
@given(text=hostile_text, title=hostile_text, source=hostile_text, question=hostile_text, note=hostile_text,
       found=st.booleans())
def test_no_source_text_title_name_or_question_is_ever_rendered_as_html(text, title, source, question, note, found):
    from qa.answer import Answer, Passage
    from qa.web.render import render_answer, render_document, render_document_head, render_question, render_upload_messages

    p = Passage(text=text, source=source, title=title, start=0, end=len(text), line_start=1, line_end=1, page=None,
                score=0.5, answer=text, answer_start=0, answer_end=len(text), also_in=(source,), section=title)
    out = render_question(question) + render_answer(Answer(question, found, (p,), (note,)))
    out += render_document(text, {"start": 0, "end": len(text), "astart": 0, "aend": len(text)})
    out += render_document_head(title, source, {"label": note, "n": "1"})
    out += render_upload_messages([f"{source}: rejected — {note}"])
    shown = only_our_markup(out)
    for piece in (question.strip(), note):  # what was supplied comes back as text
        assert " ".join(piece.split())[:20] in " ".join(shown.split())
