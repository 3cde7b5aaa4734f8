"""Throughput of the three ways to ask, in one run: the engine alone, Gradio's `/ask`, and `/api/ask`.

    python benchmarks/api_throughput.py                      # 1,000 questions each, 8 clients
    python benchmarks/api_throughput.py --questions 40 --json

Builds an index over a private copy of seeds/ (or takes --index), then:
1. the engine: `Index.ask()` on one thread in this process (`qa serve` not yet started);
2. starts `qa serve` on a free loopback port, as a separate process;
3. Gradio's `/ask`: `--clients` concurrent clients, each POSTing `/gradio_api/call/ask` and reading
   its event stream (the route gradio_client uses; every argument sent: question, k, sources);
4. `/api/ask`: the same clients POSTing `{question, k}`.
Every path gets the same questions (seed questions with a changing tail, so no cache can help) and
the same k. Prints questions per second, p50 and p99 latency and each rate against the engine's.
The targets of issue 22 are /api/ask ≥ 0.5× the engine's rate with p99 ≤ 250 ms; `--check` exits 1
when they are missed. Any failed request (HTTP error, error event, answer without passages) exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from load import ask as gradio_ask  # noqa: E402  the REST call of Gradio's /ask, as benchmarks/load.py makes it
from load import require_loopback, wait_for  # noqa: E402
from seed_questions import ANSWERABLE, UNANSWERABLE  # noqa: E402

TARGET_RATIO = 0.5
TARGET_P99_MS = 250.0


@dataclass
class Run:
    path: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    def row(self, engine_rate: float | None) -> dict:
        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        return {"path": self.path, "clients": self.clients, "questions": len(self.latencies),
                "failed": len(self.failures), "per_second": round(rate, 1),
                "p50_ms": round(self.percentile(0.50) * 1000, 1), "p99_ms": round(self.percentile(0.99) * 1000, 1),
                "vs_engine": round(rate / engine_rate, 2) if engine_rate else 1.0,
                "first_failures": self.failures[:3]}


def questions(n: int) -> list[str]:
    pool = [q for q, _ in ANSWERABLE] + list(UNANSWERABLE)
    return [f"{pool[i % len(pool)]} ({i})" for i in range(n)]


def check_answer(data: object) -> None:
    if not isinstance(data, dict) or not data.get("passages") or not isinstance(data.get("found"), bool):
        raise RuntimeError(f"answer without passages: {str(data)[:200]}")


def run_engine(index: Path, qs: list[str], k: int) -> Run:
    from qa import Index

    ix = Index(index)
    for q in qs[:5]:
        ix.ask(q, k=k)  # the model loaded, the version open
    run = Run("engine (Index.ask)", 1)
    started = time.perf_counter()
    for q in qs:
        t = time.perf_counter()
        try:
            check_answer(ix.ask(q, k=k).to_dict())
            run.latencies.append(time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001 - counted and reported
            run.failures.append(f"{type(e).__name__}: {e}"[:300])
    run.seconds = time.perf_counter() - started
    return run


async def run_http(path: str, url: str, qs: list[str], k: int, clients: int) -> Run:
    """`clients` concurrent clients, each asking its share of `qs` one after another."""
    import httpx

    async def one(client, q: str) -> dict:
        if path == "gradio":
            return await gradio_ask(client, url, q, k)
        r = await client.post(f"{url}api/ask", json={"question": q, "k": k})
        r.raise_for_status()
        return r.json()

    run = Run("Gradio /ask" if path == "gradio" else "/api/ask", clients)
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for q in qs[:clients]:
            await one(client, q)  # warm: connections open, the server's first questions asked
        queue = list(reversed(qs))

        async def worker() -> None:
            while queue:
                q = queue.pop()
                t = time.perf_counter()
                try:
                    check_answer(await one(client, q))
                    run.latencies.append(time.perf_counter() - t)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    run.failures.append(f"{type(e).__name__}: {e}"[:300])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        run.seconds = time.perf_counter() - started
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(index: Path, sources: Path, n: int, k: int, clients: int, log=print) -> list[dict]:
    qs = questions(n)
    log(f"engine: {n} questions on one thread…")
    engine = run_engine(index, qs, k)
    engine_rate = len(engine.latencies) / engine.seconds
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    require_loopback(url)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log_file = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--sources", str(sources),
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=index.parent, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        wait_for(url, server)
        runs = [engine]
        for path in ("gradio", "api"):
            log(f"{path}: {n} questions from {clients} clients…")
            runs.append(asyncio.run(run_http(path, url, qs, k, clients)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return [r.row(engine_rate) for r in runs]


def table(rows: list[dict]) -> str:
    lines = [f"{'path':20} {'clients':>7} {'questions':>9} {'failed':>6} {'q/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'× engine':>8}"]
    for r in rows:
        lines.append(f"{r['path']:20} {r['clients']:7d} {r['questions']:9d} {r['failed']:6d} {r['per_second']:7.1f} "
                     f"{r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['vs_engine']:8.2f}")
    return "\n".join(lines)


def meets_targets(rows: list[dict]) -> bool:
    api = next(r for r in rows if r["path"] == "/api/ask")
    return api["vs_engine"] >= TARGET_RATIO and api["p99_ms"] <= TARGET_P99_MS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=1000, help="questions per path")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--index", type=Path, help="an index over seeds/ (default: built in a temporary folder)")
    ap.add_argument("--check", action="store_true", help=f"exit 1 unless /api/ask reaches {TARGET_RATIO}× the "
                    f"engine's rate with p99 ≤ {TARGET_P99_MS:.0f} ms")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731

    work = Path(tempfile.mkdtemp(prefix="qa-api-bench-"))
    try:
        shutil.copytree(ROOT / "seeds", work / "seeds")
        index = work / "index"
        if args.index:
            shutil.copytree(args.index, index)
        else:
            log("building an index over seeds/…")
            subprocess.run([sys.executable, "-m", "qa.cli", "build", str(work / "seeds"), "--index", str(index)],
                           check=True, cwd=work, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        rows = measure(index, work / "seeds", args.questions, args.k, args.clients, log=log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = meets_targets(rows)
    if args.json:
        print(json.dumps({"rows": rows, "targets_met": ok, "k": args.k}, indent=2))
    else:
        print(table(rows))
        api = rows[-1]
        print(f"/api/ask: {api['vs_engine']:.2f}× the engine's rate (target ≥ {TARGET_RATIO}), "
              f"p99 {api['p99_ms']:.0f} ms (target ≤ {TARGET_P99_MS:.0f}): {'met' if ok else 'NOT met'}")
    failed = any(r["failed"] for r in rows)
    sys.exit(1 if failed or (args.check and not ok) else 0)


if __name__ == "__main__":
    main()
