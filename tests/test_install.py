"""qa installed as a wheel (not editable), used from an unrelated folder as a new user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_own_documents import LAMPS, RIVER, checkout_index_state, serve_and_ask

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_installed_elsewhere_builds_asks_and_serves_the_demo_from_an_unrelated_folder(tmp_path):
    before = checkout_index_state()
    # A copy of the checkout, so that building the wheel leaves no build/ folder in it.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "index", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheel"), str(src)], check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "wheel").glob("qa-*.whl"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    assert (site / "qa" / "seeds").is_dir() and not (site / "qa" / "seeds").is_symlink()  # the demo ships inside

    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "river.txt").write_text(RIVER)
    (work / "docs" / "lamps.md").write_text(LAMPS)
    env = {**os.environ, "PYTHONPATH": str(site), "QA_CACHE": str(tmp_path / "cache"), "QA_INDEX": ""}
    qa = [str(site / "bin" / "qa")]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*qa, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)

    where = subprocess.run([sys.executable, "-c", "import qa; print(qa.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site)), where  # the installed copy, not the checkout

    first = run("ask", "How many gas lamps did the lamplighter light?")
    assert first.returncode == 1 and "qa build FOLDER" in first.stderr
    built = run("build", "docs")
    assert built.returncode == 0, built.stderr
    answer = run("ask", "How many gas lamps did the lamplighter light?", "--json")
    assert answer.returncode == 0, answer.stderr
    passage = json.loads(answer.stdout)["passages"][0]
    assert passage["source"] == "docs/lamps.md" and "212" in passage["answer"]
    assert (work / "index" / "CURRENT").exists()

    data = serve_and_ask([*qa, "serve", "--demo"], work, env, "Who chairs the review meetings?")
    assert data["found"] and data["passages"][0]["source"].startswith("seeds/")

    assert not list(site.glob("**/index/CURRENT")) and not (site / "index").exists()  # nothing beside the package
    assert checkout_index_state() == before  # the checkout's own index is untouched
