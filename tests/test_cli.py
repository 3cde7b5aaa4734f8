"""The command line: exit codes, JSON output and human output."""

import json
import subprocess
import sys

QA = [sys.executable, "-m", "qa.cli"]


def run(*args, cwd=None):
    return subprocess.run([*QA, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_empty_question_exits_2_with_a_message():
    r = run("ask", "   ")
    assert r.returncode == 2
    assert "empty" in r.stderr


def test_ask_json_prints_the_documented_schema(seeds_index):
    r = run("ask", "How much did the council invest in social work?", "--json", "-k", "2", "--index", str(seeds_index.path))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert list(data) == ["question", "found", "passages", "searched_for"]
    assert len(data["passages"]) == 2
    assert data["passages"][0]["source"].startswith("seeds/")


def test_ask_human_output_puts_the_answer_first_then_citations(seeds_index):
    r = run("ask", "Which award was the virtual school the first to receive?", "--index", str(seeds_index.path))
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert "National Nurturing Schools" in first
    assert "[1]" in r.stdout and "seeds/" in r.stdout and "lines" in r.stdout


def test_unanswerable_question_says_so_plainly(seeds_index):
    r = run("ask", "What is the boiling point of water?", "--index", str(seeds_index.path))
    assert r.returncode == 0
    assert r.stdout.startswith("The sources do not answer this question")


def test_build_with_no_sources_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run("build", str(tmp_path / "empty"), "--index", str(tmp_path / "ix"))
    assert r.returncode == 1
    assert "no documents" in r.stderr


def test_build_then_check_reports_a_consistent_index(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("The ferry to the island leaves at nine every morning in summer.")
    r = run("build", str(tmp_path / "docs"), "--index", str(tmp_path / "ix"))
    assert r.returncode == 0, r.stderr
    assert "added 1" in r.stdout
    r = run("check", "--index", str(tmp_path / "ix"))
    assert r.returncode == 0 and "consistent" in r.stdout
