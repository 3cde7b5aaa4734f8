"""Finding source files and loading each format to text.

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
from typing import Callable

from qa.clean import line_reason

MAX_FILE_BYTES = 200 * 1024 * 1024  # beyond this a file is reported, not read


@dataclass(frozen=True)
class Section:
    """A heading and where its section starts in the document text."""

    start: int
    path: tuple[str, ...]  # e.g. ("Report", "2. Summary")


@dataclass(frozen=True)
class Document:
    path: Path  # absolute path of the file
    source: str  # path shown in citations, relative to the corpus folder's parent
    title: str
    text: str
    content_hash: str  # sha256 of the file's bytes
    format: str  # "txt", "md", ...
    pages: tuple[int, ...] = ()  # start offset of each page (PDF); empty when there are none
    sections: tuple[Section, ...] = ()
    warnings: tuple[str, ...] = ()

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


class Unreadable(ValueError):
    """Raised by a loader for a file it cannot read; the message is the reason shown to the user."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


Loader = Callable[[Path, bytes], tuple[str, dict]]
LOADERS: dict[str, Loader] = {}


def loader(*suffixes: str):
    def register(fn: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix] = fn
        return fn

    return register


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(LOADERS))


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


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (a BOM is dropped); otherwise cp1252 then latin-1, with a warning saying so.

    A UTF-8 file with a few damaged bytes keeps its UTF-8 (the bad bytes become U+FFFD) rather
    than turning every accented letter into mojibake.
    """
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        warning = f"not valid UTF-8 (byte {e.start}); read as "
    text = data.decode("utf-8-sig", errors="replace")
    damaged = text.count("\ufffd") - data.count("\ufffd".encode())
    if len(_UTF8_SEQUENCE.findall(data, 0, 1 << 20)) > damaged:
        return text, [f"{damaged} invalid UTF-8 byte sequence(s) replaced with \ufffd"]
    try:
        return data.decode("cp1252"), [warning + "Windows-1252"]
    except UnicodeDecodeError:
        return data.decode("latin-1"), [warning + "Latin-1"]


_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _control_share(data: bytes) -> float:
    """Share of control bytes (NUL included; tab, line and page breaks excluded)."""
    return len(data.translate(None, _NOT_CONTROL)) / max(1, len(data))


def looks_binary(data: bytes) -> bool:
    """Control bytes (NUL included) are more than 5% of the file, or cluster in its first 8 KB."""
    return _control_share(data) > 0.05 or _control_share(data[:8192]) > 0.05


def _utf16(data: bytes) -> str | None:
    """UTF-16 text (a BOM, or every other byte NUL as Notepad's 'Unicode' writes it), else None."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        sample = data[:8192]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        half = len(sample) // 2
        if half < 2 or max(even, odd) < 0.4 * half or min(even, odd) > 0.05 * half:
            return None
        encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    head = text[:4096]
    return text if len(_CONTROL_CHARS.findall(head)) <= 0.05 * len(head) else None


@loader(".txt", ".text")
def load_text(path: Path, data: bytes) -> tuple[str, dict]:
    """Plain text: UTF-8 or UTF-16, else a legacy 8-bit encoding (with a warning).

    A file with NUL bytes (outside UTF-16) is refused: dropping them would make the indexed text
    differ from the file, and citations must read back from the file as it is.
    """
    text = _utf16(data)
    if text is not None:
        return text, {"warnings": []}
    if looks_binary(data):
        raise Unreadable("binary content (NUL or control bytes), not text")
    nul = data.count(0)
    if nul:
        raise Unreadable(f"{nul} NUL byte(s) in the text: a binary or damaged file")
    text, warnings = decode(data)
    return text, {"warnings": warnings}


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


@loader(".md", ".markdown")
def load_markdown(path: Path, data: bytes) -> tuple[str, dict]:
    """Text as written; ATX headings (outside code fences) name the sections, the first # is the title."""
    text, meta = load_text(path, data)
    fences = [(m.start(), m.end()) for m in _MD_FENCE.finditer(text)]
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    for m in _MD_HEADING.finditer(text):
        if any(a <= m.start() < b for a, b in fences):
            continue
        level, heading = len(m.group(1)), m.group(2).strip()
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
        sections.append(Section(m.start(), tuple(h for _, h in stack)))
    meta["sections"] = tuple(sections)
    if sections:
        top = min(len(s.path) for s in sections)
        meta["title"] = next(s.path[-1] for s in sections if len(s.path) == top)
    return text, meta


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
        text, meta = LOADERS[file.path.suffix.lower()](file.path, data)
    except Unreadable as e:
        return Problem(file.source, str(e))
    except Exception as e:  # a loader's failure skips this one file, never the build
        return Problem(file.source, f"cannot load {fmt}: {type(e).__name__}: {e}")
    if not text.strip():
        return Problem(file.source, "no text found")
    return Document(
        path=file.path,
        source=file.source,
        title=meta.get("title") or guess_title(text, file.path.stem),
        text=text,
        content_hash=content_hash(data),
        format=fmt,
        pages=tuple(meta.get("pages", ())),
        sections=tuple(meta.get("sections", ())),
        warnings=tuple(meta.get("warnings", ())),
    )


from qa import formats as _formats  # noqa: E402,F401  (registers the HTML, PDF and DOCX loaders)
