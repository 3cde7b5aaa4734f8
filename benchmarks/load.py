"""Load test: concurrent askers against `qa serve` on 127.0.0.1 while the index is being updated.

    python benchmarks/load.py                                   # 50 askers, 60 s, at least 10,000 questions
    python benchmarks/load.py --askers 10 --seconds 10 --questions 0

Starts `qa serve` over a private copy of seeds/ (and its index) on a free loopback port, plus
`qa watch` over the same folder; every few seconds a file in the folder is added, changed or
removed, so new index versions are published while questions are being answered. Each asker sends
questions through the web API (`/gradio_api/call/ask`, the route gradio_client uses) one after
another; every question is different (seed questions with a changing tail, random word mixes), so
no cache can hide growth. The run lasts `--seconds` and continues until `--questions` have been
answered (hard stop at `--max-seconds`).

Prints requests served, failures, latency p50/p99, index versions published during the run and the
server's resident memory (RSS) every 1,000 questions. Exits 1 on any failed request or when RSS grows
by more than `--rss-bound-mb` between the first 1,000 questions (warm) and the end.
A failure is: an HTTP error, an error event, a timeout, or an answer without passages.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from seed_questions import ANSWERABLE, UNANSWERABLE  # noqa: E402

REQUEST_TIMEOUT = 120.0


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rss: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, questions served, RSS bytes)
    versions: set[str] = field(default_factory=set)

    @property
    def served(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def require_loopback(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to load-test {host}: only 127.0.0.1 / localhost")


def question_stream(seed: int):
    rng = random.Random(seed)
    words = " ".join(q for q, *_ in ANSWERABLE).split()
    n = 0
    while True:
        n += 1
        kind = rng.random()
        if kind < 0.6:
            q, _ = rng.choice(ANSWERABLE)
            yield f"{q} ({n})"
        elif kind < 0.8:
            yield f"{rng.choice(UNANSWERABLE)} #{n}"
        else:
            yield " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + f" {n}?"


async def ask(client, url: str, question: str, k: int = 3) -> dict:
    """One question through the Gradio REST API: POST to get an event id, then read the event stream."""
    r = await client.post(f"{url}gradio_api/call/ask", json={"data": [question, k, None]})  # question, k, sources (history left out)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    event = None
    async with client.stream("GET", f"{url}gradio_api/call/ask/{event_id}") as s:
        s.raise_for_status()
        async for line in s.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line[5:])
                if event == "error":
                    raise RuntimeError(f"error event: {data}")
                return data[0]
    raise RuntimeError(f"stream ended without a result (last event {event})")


async def asker(n: int, url: str, stats: Stats, done: asyncio.Event) -> None:
    import httpx

    questions = question_stream(n)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        while not done.is_set():
            q = next(questions)
            t = time.perf_counter()
            try:
                result = await asyncio.wait_for(ask(client, url, q), REQUEST_TIMEOUT)
                if not result.get("passages") or not isinstance(result.get("found"), bool):
                    raise RuntimeError(f"answer without passages: {str(result)[:200]}")
                stats.latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                stats.failures.append(f"{type(e).__name__}: {e}"[:300])


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def run(url: str, askers: int, seconds: float, questions: int, max_seconds: float, pid: int,
              index: Path | None, log=print) -> Stats:
    stats = Stats()
    done = asyncio.Event()

    async def watch() -> None:
        next_report = 1000
        while not done.is_set():
            elapsed = time.monotonic() - stats.started
            stats.rss.append((elapsed, stats.served, rss_of(pid)))
            if index is not None and (index / "CURRENT").exists():
                stats.versions.add((index / "CURRENT").read_text().strip())
            if stats.served >= next_report:
                log(f"  {stats.served:6d} questions, {len(stats.failures)} failed, {elapsed:5.0f} s, "
                    f"RSS {stats.rss[-1][2] / 2**20:.0f} MB")
                next_report += 1000
            if (elapsed >= seconds and stats.served >= questions) or elapsed >= max_seconds:
                done.set()
            await asyncio.sleep(0.5)

    await asyncio.gather(watch(), *(asker(n, url, stats, done) for n in range(askers)))
    stats.rss.append((time.monotonic() - stats.started, stats.served, rss_of(pid)))
    return stats


def updater(folder: Path, every: float, stop: threading.Event) -> None:
    """Add, change and remove a file in the watched folder every `every` seconds."""
    n = 0
    while not stop.wait(every):
        n += 1
        target = folder / f"update-{n % 3}.txt"
        if n % 4 == 3 and target.exists():
            target.unlink()
        else:
            target.write_text(f"Update {n}\n\nThe load test wrote this note number {n} at {time.time():.0f}. "
                              f"The tide at Ormsby harbour rose {n % 7 + 1} metres on day {n}.\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"qa serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"qa serve did not answer within {timeout:.0f} s")


def report(stats: Stats, askers: int, rss_bound_mb: float) -> dict:
    took = stats.rss[-1][0] if stats.rss else 0.0
    warm = next((r for r in stats.rss if r[1] >= min(1000, max(1, stats.served // 10))), stats.rss[0])
    after = [r for r in stats.rss if r[0] >= warm[0]]
    growth = (max(r[2] for r in after) - warm[2]) / 2**20
    return {
        "askers": askers,
        "seconds": round(took, 1),
        "served": stats.served,
        "failed": len(stats.failures),
        "per_second": round(stats.served / took, 1) if took else 0.0,
        "p50_ms": round(stats.percentile(0.50) * 1000),
        "p99_ms": round(stats.percentile(0.99) * 1000),
        "max_ms": round(max(stats.latencies, default=float("nan")) * 1000),
        "mean_ms": round(statistics.fmean(stats.latencies) * 1000) if stats.latencies else None,
        "index_versions_seen": len(stats.versions),
        "rss_warm_mb": round(warm[2] / 2**20),
        "rss_warm_at_questions": warm[1],
        "rss_end_mb": round(stats.rss[-1][2] / 2**20),
        "rss_max_growth_mb": round(growth, 1),
        "rss_bound_mb": rss_bound_mb,
        "first_failures": stats.failures[:5],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--askers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--questions", type=int, default=10_000, help="keep going until this many were answered")
    ap.add_argument("--max-seconds", type=float, default=1800, help="hard stop")
    ap.add_argument("--update-every", type=float, default=3.0, help="seconds between file changes (0: none)")
    ap.add_argument("--rss-bound-mb", type=float, default=100.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    try:
        shutil.copytree(ROOT / "seeds", work / "seeds")
        index = work / "index"
        subprocess.run([sys.executable, "-m", "qa.cli", "build", str(work / "seeds"), "--index", str(index)],
                       check=True, env=env, cwd=work, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        require_loopback(url)
        server = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--sources", str(work / "seeds"),
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"))
        procs.append(server)
        wait_for(url, server)
        if args.update_every > 0:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "qa.cli", "watch", str(work / "seeds"), "--index", str(index), "--debounce", "0.5"],
                env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "watch.log", "w")))
            threading.Thread(target=updater, args=(work / "seeds", args.update_every, stop), daemon=True).start()
        print(f"load: {args.askers} askers for {args.seconds:.0f} s and at least {args.questions} questions "
              f"against {url} (index updated every {args.update_every:.0f} s)", file=sys.stderr, flush=True)
        stats = asyncio.run(run(url, args.askers, args.seconds, args.questions, args.max_seconds, server.pid, index,
                                log=lambda m: print(m, file=sys.stderr, flush=True)))
    finally:
        stop.set()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    out = report(stats, args.askers, args.rss_bound_mb)
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    sys.exit(1 if out["failed"] or out["rss_max_growth_mb"] > args.rss_bound_mb else 0)


if __name__ == "__main__":
    main()
