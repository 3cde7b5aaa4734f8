"""Uploads from the web page: checked, saved atomically into the sources folder, then indexed."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qa.index import Index
from qa.loading import Loading
from qa.sources import Problem, SourceFile, supported_suffixes

MAX_UPLOAD_BYTES = 50 * 2**20


@dataclass(frozen=True)
class UploadOutcome:
    name: str
    saved: Path | None  # where it was saved, when accepted
    message: str


def name_problem(name: str) -> str | None:
    """Why an uploaded file name cannot be saved as is in the sources folder (None: it can)."""
    if not name or not name.strip():
        return "the file has no name"
    if "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        return "the file name holds a path; only plain names are saved"
    if name in (".", "..") or name.startswith(".."):
        return "the file name tries to leave the sources folder"
    if name.startswith("."):
        return "hidden files (names starting with a dot) are not indexed"
    if len(name.encode("utf-8", "surrogatepass")) > 255:
        return "the file name is too long"
    suffix = Path(name).suffix.lower()
    if suffix not in supported_suffixes():
        kinds = " ".join(supported_suffixes())
        return f"unsupported file type {suffix or '(none)'} (supported: {kinds})"
    return None


class Uploads:
    """Saves uploaded files into the sources folder and adds them to the index, one update at a time."""

    def __init__(self, index: Index, folder: Path, max_bytes: int = MAX_UPLOAD_BYTES):
        self.index = index
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.lock = threading.Lock()

    def check(self, path: Path, name: str) -> str | None:
        reason = name_problem(name)
        if reason:
            return reason
        if path.is_symlink():
            return "symbolic links are not accepted"
        if not path.is_file():
            return "not a regular file"
        size = path.stat().st_size
        if size > self.max_bytes:
            return f"too large ({size / 2**20:.1f} MB; the limit is {self.max_bytes / 2**20:.0f} MB)"
        dest = self.folder / name
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            return f"{self.folder.name}/{name} exists and is not a regular file"
        if dest.resolve().parent != self.folder.resolve():
            return "the file name tries to leave the sources folder"
        with Loading() as loading:  # a worker process: a file that crashes or stalls its parser costs only the upload
            doc = loading.load(SourceFile(path, f"{self.folder.name}/{name}"))
        if isinstance(doc, Problem):
            return f"unreadable: {doc.reason}"
        return None

    def save(self, path: Path, name: str) -> UploadOutcome:
        """Check one upload and copy it into the folder atomically (a rejected file changes nothing)."""
        path = Path(path)
        reason = self.check(path, name)
        if reason:
            return UploadOutcome(name, None, f"{name}: rejected — {reason}")
        self.folder.mkdir(parents=True, exist_ok=True)
        dest = self.folder / name
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.folder)  # dot name: never indexed half-written
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return UploadOutcome(name, dest, "")

    def add(self, files: list[tuple[Path, str]], progress: Callable[[float, str], None] = lambda f, d: None,
            embedding_bar: bool = False) -> list[str]:
        """Save the acceptable files, then update the index with them. Returns messages for a person.

        `embedding_bar` lets the engine show its tqdm bar while embedding (the web page tracks it).
        """
        with self.lock:
            messages, saved = [], []
            for i, (path, name) in enumerate(files):
                progress(i / max(1, len(files)) * 0.3, f"checking {name}")
                outcome = self.save(path, name)
                (saved.append(outcome) if outcome.saved else messages.append(outcome.message))
            if saved:
                progress(0.35, f"updating the index with {len(saved)} file(s)")
                started = time.perf_counter()
                report = self.index.add([o.saved for o in saved], progress=embedding_bar, log=lambda m: progress(0.4, m))
                took = time.perf_counter() - started
                progress(1.0, "done")
                for p in report.problems:
                    messages.append(f"{p.source}: {'skipped' if p.skipped else 'note'} — {p.reason}")
                new = [*(f"added {s}" for s in report.added), *(f"updated {s}" for s in report.changed)]
                same = len(saved) - len(report.added) - len(report.changed)
                if same > 0:
                    new.append(f"{same} file(s) unchanged")
                messages.insert(0, f"{'; '.join(new) or 'nothing changed'} in {took:.1f} s — "
                                   f"the index now holds {report.documents} documents, {report.chunks_total} passages; "
                                   "ask about them now.")
            return messages
