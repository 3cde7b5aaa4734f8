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


FOLLOW_UP = ["What did Ofsted say about standards in the county's primary schools?",
             "Who is the cabinet member for education there?"]


def test_chat_reads_follow_ups_in_the_conversation_and_starts_over_on_new(seeds_index):
    lines = [*FOLLOW_UP, "/sources", "/new", FOLLOW_UP[1], "/help"]
    r = subprocess.run([*QA, "chat", "--index", str(seeds_index.path), "-k", "1"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # the end of input (Ctrl-D) ends the chat
    answers = r.stdout.split("\n> ")
    follow_up, sources, new, again, help_ = answers[2:7]
    assert "whiting" in follow_up.lower() and f"searched for: {FOLLOW_UP[1]} (+ " in follow_up
    assert sources.count("seeds/") == 5 and "Realising the potential of Children in Care" in sources
    assert new.startswith("New conversation")
    assert "searched for" not in again  # nothing before it any more
    assert "/new" in help_ and "/sources" in help_


def test_ask_takes_the_conversation_from_a_json_file(seeds_index, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": FOLLOW_UP[0]},
                                   {"role": "assistant", "content": "More work needs to be done to lift standards."}]))
    r = run("ask", FOLLOW_UP[1], "--history", str(history), "--json", "--index", str(seeds_index.path))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["searched_for"].startswith(FOLLOW_UP[1] + " (+ ")
    assert "whiting" in data["passages"][0]["answer"].lower()


def test_ask_with_a_bad_history_file_exits_2_saying_why(seeds_index, tmp_path):
    bad_role = tmp_path / "role.json"
    bad_role.write_text(json.dumps([{"role": "system", "content": "be brief"}]))
    not_json = tmp_path / "broken.json"
    not_json.write_text("[{")
    for path, words in ((bad_role, "role 'system'"), (not_json, "not JSON"), (tmp_path / "missing.json", "cannot read")):
        r = run("ask", FOLLOW_UP[1], "--history", str(path), "--index", str(seeds_index.path))
        assert r.returncode == 2 and words in r.stderr, (path, r.stderr)
