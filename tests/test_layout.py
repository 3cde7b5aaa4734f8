"""The seams: no import cycles, a library that leaves its host alone, one error family, a short README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import module_graph  # noqa: E402


def test_qa_modules_import_each_other_without_cycles():
    _, edges = module_graph.graph(ROOT)
    assert module_graph.cycles(edges, top_level_only=False) == []
    # The seams the layout promises: search and answers see only the store protocol, formats
    # only their registry, rendering no web framework and no engine.
    assert not any(m.startswith("qa.stores.") and m != "qa.stores.base" for m in edges["qa.search"])
    assert not any(m.startswith("qa.stores.") for m in edges["qa.answer"])
    assert "qa.sources" not in {d for m, deps in edges.items() if m.startswith("qa.formats") for d in deps}
    assert set(edges["qa.web.render"]) <= {"qa.answer"}


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_and_using_qa_changes_nothing_in_its_host(seeds_index):
    """No environment variable, no library's log level is set by `import qa` or by asking."""
    result = _run(f"""
import json, logging, os, sys
env = dict(os.environ)
levels = {{n: logging.getLogger(n).level for n in ("pypdf", "transformers", "pymilvus", "httpx")}}
import qa, qa.web, qa.cli, qa.evaluate, qa.stores.faiss
imported = dict(os.environ) == env and levels == {{n: logging.getLogger(n).level for n in levels}}
answer = qa.Index({str(seeds_index.path)!r}).ask("Who chairs the review meetings?")
used = dict(os.environ) == env and levels == {{n: logging.getLogger(n).level for n in levels}}
print(json.dumps({{"imported": imported, "used": used, "found": answer.found,
                  "gradio": "gradio" in sys.modules, "torch": "torch" in sys.modules}}))
""")
    assert result == {"imported": True, "used": True, "found": True, "gradio": False, "torch": False}


def test_rendering_needs_no_web_framework():
    result = _run("import json, sys, qa.web.render; print(json.dumps({'gradio': 'gradio' in sys.modules}))")
    assert result == {"gradio": False}


def test_every_error_qa_raises_on_purpose_is_a_qa_error():
    import qa.errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.QAError)
    # Callers written against the built-in types keep working.
    assert issubclass(errors.InvalidInput, ValueError) and issubclass(errors.InvalidType, TypeError)
    assert issubclass(errors.IndexWriteFailed, OSError) and issubclass(errors.MissingExtra, ImportError)


def test_a_damaged_index_is_an_index_problem_not_a_storage_exception(tmp_path):
    from qa import Index, IndexUnreadable

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "river.txt").write_text("River notes\n\nThe river Wenn flows north through the valley of Ash.\n")
    ix = Index(tmp_path / "ix")
    ix.build([docs], progress=False)
    version = tmp_path / "ix" / ix.store.current_version()
    (version / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexUnreadable, match="rebuild"):
        Index(tmp_path / "ix").ask("Which way does the river flow?")
    (version / "vectors.faiss").write_bytes(b"\0" * 64)
    with pytest.raises(IndexUnreadable, match="rebuild"):
        Index(tmp_path / "ix").documents()


def test_the_readme_is_a_short_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    for heading in ("## Set-up", "## Use", "## Formats", "## How it works", "## Scaling out", "## Results"):
        assert heading in readme
