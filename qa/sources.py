"""Finding source files and loading each to a Document through the format registry.

A `Document` holds the text exactly as qa will cite it: every offset in the index refers to it.
Loading never raises for a bad file: it returns a `Problem` that the build reports and skips.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.clean import line_reason
from qa.errors import Unreadable
from qa.formats import LOADERS, Section, supported_suffixes
from qa.formats.meta import DocumentMeta, from_text

MAX_FILE_BYTES = 200 * 1024 * 1024  # beyond this a file is reported, not read
OCR_FORMAT_SUFFIX = "+ocr"  # on Document.format, and so in the index: the viewer labels such text


def is_ocr_format(fmt: str) -> bool:
    return fmt.endswith(OCR_FORMAT_SUFFIX)


@dataclass(frozen=True)
class Document:
    path: Path  # absolute path of the file
    source: str  # path shown in citations, relative to the corpus folder's parent
    title: str
    text: str
    content_hash: str  # sha256 of the file's bytes
    format: str  # "txt", "md", ...; "pdf+ocr", "png+ocr": some or all of the text was read by OCR
    pages: tuple[int, ...] = ()  # start offset of each page (PDF); empty when there are none
    sections: tuple[Section, ...] = ()
    warnings: tuple[str, ...] = ()
    meta: DocumentMeta = DocumentMeta()  # author, published date (ISO 8601), URL, where known
    tables: tuple[tuple[int, int], ...] = ()  # table row groups (see qa.formats.tables)
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text was read by OCR

    @property
    def id(self) -> str:
        """Stable id from the citation path: a changed file keeps its id, its chunks are replaced."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Problem:
    """A file that was not indexed (or indexed with a caveat), and why."""

    source: str
    reason: str
    skipped: bool = True


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _display(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def find_files(paths: list[str | Path]) -> Discovery:
    """Every file under `paths`, each with its citation path; unsupported or looping entries are problems.

    A folder's files are cited relative to the folder's parent (`seeds/a.txt`); a file given
    directly is cited as `parentfolder/name`.
    """
    found = Discovery()
    seen: set[Path] = set()

    def add(path: Path, root: Path) -> None:
        source = _display(path, root)
        if path.suffix.lower() not in LOADERS:
            kinds = " ".join(supported_suffixes())
            found.problems.append(Problem(source, f"unsupported file type {path.suffix or '(none)'} (qa reads {kinds})"))
            return
        real = path.resolve()
        if real in seen:
            return
        seen.add(real)
        found.files.append(SourceFile(path, source))

    for given in paths:
        p = Path(given).absolute()
        if not p.exists():
            found.problems.append(Problem(str(given), "no such file or folder"))
        elif p.is_file():
            add(p, p.parent.parent)
        else:
            root = p.parent
            visited: set[tuple[int, int]] = set()
            for dirpath, dirnames, filenames in os.walk(p, followlinks=True):
                st = os.stat(dirpath)
                if (st.st_dev, st.st_ino) in visited:
                    found.problems.append(Problem(_display(Path(dirpath), root), "symlink loop, not followed"))
                    dirnames[:] = []
                    continue
                visited.add((st.st_dev, st.st_ino))
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    f = Path(dirpath) / name
                    if not f.exists():
                        found.problems.append(Problem(_display(f, root), _broken_link_reason(f)))
                    else:
                        add(f, root)
    found.files.sort(key=lambda f: f.source)
    return found


def _broken_link_reason(path: Path) -> str:
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symlink loop, not followed"
    return "broken symlink (its target does not exist)"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

def guess_title(text: str, fallback: str) -> str:
    """A 'Subject:'/'Title:' line, else the first line that is content rather than page furniture."""
    candidates = [ln.strip() for ln in text[:20000].splitlines() if ln.strip()]
    for ln in candidates[:40]:
        m = re.match(r"^(?:subject|title|re)\s*:\s*(.+)$", ln, re.IGNORECASE)
        if m and len(m.group(1)) > 3:
            return _short(m.group(1))
    for ln in candidates[:40]:
        if line_reason(ln) is None and len(re.findall(r"[^\W\d_]+", ln)) >= 2:
            return _short(ln.lstrip("#").strip())
    return fallback


def _short(title: str, limit: int = 120) -> str:
    title = re.sub(r"\s+", " ", title).strip()
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def load(file: SourceFile) -> Document | Problem:
    """Load one file; any failure becomes a Problem with a reason a person can act on."""
    try:
        size = file.path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Problem(file.source, f"too large ({size // 2**20} MB > {MAX_FILE_BYTES // 2**20} MB)")
        data = file.path.read_bytes()
    except OSError as e:
        return Problem(file.source, f"cannot read: {e.strerror or e}")
    if not data.strip():
        return Problem(file.source, "empty file")
    fmt = file.path.suffix.lower().lstrip(".")
    try:
        loaded = LOADERS[file.path.suffix.lower()](file.path, data)
    except Unreadable as e:
        return Problem(file.source, str(e))
    except Exception as e:  # a loader's failure skips this one file, never the build
        return Problem(file.source, f"cannot load {fmt}: {type(e).__name__}: {e}")
    if not loaded.text.strip():
        return Problem(file.source, "no text found")
    given = DocumentMeta(loaded.author, loaded.published, loaded.url)
    return Document(
        path=file.path,
        source=file.source,
        title=loaded.title or guess_title(loaded.text, file.path.stem),
        text=loaded.text,
        content_hash=content_hash(data),
        format=fmt + (OCR_FORMAT_SUFFIX if loaded.ocr_pages else ""),
        pages=loaded.pages,
        sections=loaded.sections,
        warnings=loaded.warnings,
        meta=given.merged(from_text(loaded.text)),  # a byline in the text where metadata says nothing
        tables=loaded.tables,
        ocr_pages=loaded.ocr_pages,
    )
