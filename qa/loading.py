"""Loading files in a worker process under a time budget, so that no file can stall a build.

Loaders are third-party parsers run on untrusted bytes: a damaged PDF can send one into a loop,
a crafted image can crash its C code. `Loading` runs `qa.sources.load` in one long-lived child
process (`qa.loading.serve`) and talks JSON lines with it over pipes (no pickle). The build
waits at most the budget for each step of a file, opening it and then each page (loaders mark
their progress with `qa.formats.registry.step`; an OCR'd page has a budget of its own); a child
that runs over is killed and the file is reported as skipped with the reason, a child that
crashes likewise. The next file gets a fresh child. With a budget of 0 files load in-process.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

from qa.settings import load_budget, ocr_page_budget
from qa.sources import Document, Problem, Section, SourceFile, load

READ_BYTES = 1 << 20
WORKER = "from qa.loading import serve; serve()"


def document_to_json(doc: Document) -> dict:
    """A Document as JSON values: a nested dataclass field (a value object such as the document's
    metadata) as an object of its fields, tuples as arrays."""
    out = {f.name: asdict(v) if is_dataclass(v := getattr(doc, f.name)) else v for f in fields(Document)}
    out["path"] = str(doc.path)
    out["sections"] = [[s.start, list(s.path)] for s in doc.sections]
    return out


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def document_from_json(data: dict) -> Document:
    values = {k: _tuples(v) for k, v in data.items()}  # JSON arrays back to the tuples Document holds
    for f in fields(Document):  # a dataclass field comes back as the class of its default
        if is_dataclass(f.default) and isinstance(data.get(f.name), dict):
            values[f.name] = type(f.default)(**{k: _tuples(v) for k, v in data[f.name].items()})
    values["path"] = Path(data["path"])
    values["sections"] = tuple(Section(start, tuple(path)) for start, path in data["sections"])
    return Document(**values)


class Loading:
    """Loads files one at a time in a worker process, each within its time budget (seconds per
    step; None: QA_LOAD_BUDGET). Use as a context manager, or call close()."""

    def __init__(self, budget: float | None = None, ocr_budget: float | None = None, worker: str = WORKER):
        self.budget = load_budget() if budget is None else budget
        self.worker = worker  # the Python code the worker runs (tests give it loaders of their own)
        self.ocr_budget = ocr_page_budget() if ocr_budget is None else ocr_budget
        self._proc: subprocess.Popen | None = None
        self._buffer = bytearray()

    def __enter__(self) -> Loading:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
            proc.wait()
        finally:
            proc.stdout.close()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()

    def _worker(self) -> subprocess.Popen:
        if self._proc is None:
            env = {**os.environ, "QA_OCR_PAGE_BUDGET": str(self.ocr_budget)}
            self._proc = subprocess.Popen([sys.executable, "-c", self.worker], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, env=env, bufsize=0)
            self._buffer.clear()
        return self._proc

    def load(self, file: SourceFile) -> Document | Problem:
        if self.budget <= 0:
            return load(file)
        proc = self._worker()
        try:
            proc.stdin.write(json.dumps({"path": str(file.path), "source": file.source}).encode() + b"\n")
        except OSError:  # the worker is gone: a fresh one for this file
            self._kill()
            proc = self._worker()
            proc.stdin.write(json.dumps({"path": str(file.path), "source": file.source}).encode() + b"\n")
        budget, ocr = self.budget, False
        deadline = time.monotonic() + budget
        while True:
            line = self._line(proc, deadline)
            if line is None:
                self._kill()
                what = f"one page's OCR took longer than {budget:g} s" if ocr else \
                    f"opening it or reading one page took longer than {budget:g} s"
                return Problem(file.source, f"gave up: {what} (time budget; QA_LOAD_BUDGET, QA_OCR_PAGE_BUDGET)")
            if line == b"":
                code = proc.wait()
                self._kill()
                how = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else f"exit {code}"
                return Problem(file.source, f"the loader crashed on this file ({how})")
            message = json.loads(line)
            if "step" in message:  # progress: the next step gets its own budget
                ocr = message["step"] is not None
                budget = message["step"] or self.budget
                deadline = time.monotonic() + budget
            elif "document" in message:
                return document_from_json(message["document"])
            else:
                return Problem(file.source, message["problem"]["reason"], message["problem"]["skipped"])

    def _line(self, proc: subprocess.Popen, deadline: float) -> bytes | None:
        """The worker's next line; b"" when it died, None when the deadline passed first. Bytes
        arriving count as progress (a long answer is still being written)."""
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, READ_BYTES)
            if not chunk:
                return b""
            self._buffer += chunk
            deadline = max(deadline, time.monotonic() + 5)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        return line


def serve() -> None:
    """The worker: one JSON request per line on stdin, progress and one answer per line on stdout."""
    import logging

    from qa.formats import registry

    for name in ("pypdf", "pdfminer", "RapidOCR"):  # every recoverable oddity of a file: not for the terminal
        logging.getLogger(name).setLevel(logging.ERROR)
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol

    def send(message: dict) -> None:
        protocol.write(json.dumps(message).encode() + b"\n")

    registry._on_step = lambda budget: send({"step": budget})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        result = load(SourceFile(Path(request["path"]), request["source"]))
        if isinstance(result, Document):
            send({"document": document_to_json(result)})
        else:
            send({"problem": {"reason": result.reason, "skipped": result.skipped}})

