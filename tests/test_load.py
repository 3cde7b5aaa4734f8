"""Load while the index is updated: no failed request, bounded memory (benchmarks/load.py).

The default run is short and in-process (10 askers for 10 s through the web API while another
Index object publishes new versions); the full run (50 askers, 60 s, then on to 10,000 questions,
with `qa serve` and `qa watch` as separate processes) is `--run-slow`, or directly:
python benchmarks/load.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("qa_load_benchmark", ROOT / "benchmarks" / "load.py")
load = sys.modules.setdefault("qa_load_benchmark", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(load)


def test_askers_get_answers_with_no_failures_while_new_versions_are_published(seeds_copy, seeds_index, tmp_path):
    from qa import Index
    from qa.web import launch, make_app

    shutil.copytree(seeds_copy, tmp_path / "seeds")
    shutil.copytree(seeds_index.path, tmp_path / "index")
    ix = Index(tmp_path / "index")
    demo = make_app(ix, tmp_path / "seeds")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = launch(demo, "127.0.0.1", port, block=False, quiet=True)
    stop, published = threading.Event(), []

    def update():  # another writer, as `qa watch` or an upload would be
        writer, n = Index(tmp_path / "index"), 0
        while not stop.is_set():
            n += 1
            note = tmp_path / "seeds" / "update.txt"
            note.write_text(f"Update {n}\n\nThe tide at Ormsby harbour rose {n} metres on day {n}.\n")
            published.append(writer.add([note], log=lambda m: None).version)
            stop.wait(0.5)

    updater = threading.Thread(target=update, daemon=True)
    updater.start()
    try:
        stats = asyncio.run(load.run(f"http://127.0.0.1:{port}/", askers=10, seconds=10, questions=0, max_seconds=120,
                                     pid=os.getpid(), index=tmp_path / "index", log=lambda m: None))
    finally:
        stop.set()
        updater.join(timeout=120)
        served.close()
    out = load.report(stats, 10, 100.0)
    print(f"\nload (short): {out['served']} served, {out['failed']} failed, p50 {out['p50_ms']} ms, "
          f"p99 {out['p99_ms']} ms, {len(published)} versions published during the run")
    assert stats.failures == []
    assert stats.served >= 10 and len(published) >= 2 and len(stats.versions) >= 2
    assert ix.check() == []


def _serve(ix, sources):
    from qa.web import launch, make_app

    demo = make_app(ix, sources)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = launch(demo, "127.0.0.1", port, block=False, quiet=True)
    return served, f"http://127.0.0.1:{port}/"


def test_the_web_server_forgets_the_oldest_sessions_beyond_its_capacity(seeds_copy, seeds_index, monkeypatch):
    # Each plain HTTP API call is a new Gradio session; Gradio kept 10,000 of them by default
    # (~55 MB of RSS per 1,000 questions in benchmarks/load.py).
    import httpx

    import qa.web.server

    monkeypatch.setattr(qa.web.server, "SESSION_CAPACITY", 5)
    served, url = _serve(seeds_index, seeds_copy)

    async def ask_many(n):
        async with httpx.AsyncClient(timeout=60) as client:
            return [await load.ask(client, url, f"Who chairs the review meetings? ({i})") for i in range(n)]

    try:
        answers = asyncio.run(ask_many(15))
        held = len(served.demo.state_holder.session_data)
    finally:
        served.close()
    assert all(a["passages"] for a in answers)
    assert held <= 5


def test_the_sessions_the_web_server_keeps_fit_well_inside_the_load_bound(seeds_copy, seeds_index):
    import gc
    import tracemalloc

    from qa.web.server import SESSION_CAPACITY

    served, _ = _serve(seeds_index, seeds_copy)
    demo = served.demo
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            demo.state_holder[f"probe-{i}"]  # what a request without a session of its own creates
        per_session = (tracemalloc.get_traced_memory()[0] - before) / 200
        tracemalloc.stop()
        capacity = demo.state_holder.capacity
    finally:
        served.close()
    assert capacity == SESSION_CAPACITY
    # Python-level bytes; RSS is ~1.5× that. Half the 100 MB bound of benchmarks/load.py.
    assert capacity * per_session <= 50 * 2**20, f"{capacity} sessions × {per_session / 1024:.0f} KiB"


ARENAS_AFTER_TWELVE_THREADS = """
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "limit":
    import qa.web.server
    assert qa.web.server.limit_malloc_arenas()
libc = ctypes.CDLL(None)
done = threading.Event()
def work():
    held = [bytes(1000) for _ in range(2000)]
    done.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads:
    t.start()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes, libc.malloc_info.argtypes = [ctypes.c_char_p] * 2, [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
done.set()
print(open(path).read().count("<heap nr="))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc arenas")
def test_the_server_caps_malloc_arenas_so_worker_threads_share_them():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def arenas(mode):
        out = subprocess.run([sys.executable, "-c", ARENAS_AFTER_TWELVE_THREADS, mode], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=True)
        return int(out.stdout.split()[-1])

    assert arenas("default") > 2  # glibc: one arena per thread, up to 8 per core
    assert arenas("limit") <= 2


def test_the_load_script_refuses_anything_but_loopback():
    load.require_loopback("http://127.0.0.1:7860/")
    load.require_loopback("http://localhost:7860/")
    for url in ("http://10.0.0.5:7860/", "http://192.0.2.1/", "http://0.0.0.0:7860/"):
        with pytest.raises(SystemExit):
            load.require_loopback(url)


@pytest.mark.slow
def test_fifty_askers_for_a_minute_then_ten_thousand_questions_with_no_failure_and_flat_memory():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--json"],
                          capture_output=True, text=True, timeout=7200)
    out = json.loads(done.stdout)
    print(f"\nload: {json.dumps(out)}")
    assert out["failed"] == 0 and out["served"] >= 10_000
    assert out["rss_max_growth_mb"] <= out["rss_bound_mb"]
    assert done.returncode == 0
