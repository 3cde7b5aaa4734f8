"""OCR: the text of page images through RapidOCR, whose ONNX models ship inside its wheel
(`pip install "qa[ocr]"`; nothing is downloaded at run time).

The recognised lines are laid out as text: boxes on one line joined by a space, lines by a line
break, a wider gap between lines as a paragraph break. That text is what qa stores, cites and
shows for the page (the viewer labels it as OCR).
"""

from __future__ import annotations

import importlib.util
import logging
import statistics

from qa.errors import MissingExtra
from qa.formats.registry import step
from qa.settings import ocr_page_budget

INSTALL_HINT = 'install the OCR extra: pip install "qa[ocr]"'
MAX_SIDE = 2000  # pixels; RapidOCR reads at most this much itself (it scales larger images down)
MIN_SIDE = 32  # smaller images hold no readable line
PARAGRAPH_GAP = 0.9  # a gap between lines this many line heights or more starts a paragraph

_engine = None


def available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def _ocr_engine():
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:
            raise MissingExtra(f"reading text from images needs OCR: {INSTALL_HINT} ({e})") from None
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # "no text found" is an answer, not a warning
        # No text-angle classifier: on upright pages it turned whole lines upside down (they were
        # then misread or dropped), 21 % CER with it against 0.9 % without (benchmarks/ocr.py, tuning pages).
        _engine = RapidOCR(use_cls=False)
    return _engine


def _prepared(image):
    """A black-on-white copy no larger than RapidOCR reads (a huge scan costs no more than a page).

    Binarised (Otsu's threshold): JPEG ringing around letters, as in most scans, made the
    recogniser drop the spaces between words (CER 10 % on JPEG pages, 0.4 % once binarised;
    benchmarks/ocr.py, tuning pages)."""
    import cv2
    import numpy as np
    from PIL import Image

    gray = image.convert("L")
    if max(gray.size) > MAX_SIDE:
        gray.thumbnail((MAX_SIDE, MAX_SIDE))
    _, binary = cv2.threshold(np.asarray(gray), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return Image.fromarray(binary).convert("RGB")


def layout(boxes: list) -> str:
    """RapidOCR's (box, text, score) results as text: reading order top to bottom, left to right."""
    items = []
    for box, text, _score in boxes:
        ys, xs = [p[1] for p in box], [p[0] for p in box]
        text = " ".join(str(text).split())
        if text:
            items.append((min(ys), max(ys), min(xs), text))
    if not items:
        return ""
    items.sort()
    lines: list[list] = []  # [top, bottom, [(x, text)]]
    for top, bottom, x, text in items:
        centre = (top + bottom) / 2
        if lines and lines[-1][0] <= centre <= lines[-1][1]:
            lines[-1][2].append((x, text))
            lines[-1][1] = max(lines[-1][1], bottom)
        else:
            lines.append([top, bottom, [(x, text)]])
    height = statistics.median(b - t for t, b, _ in lines) or 1
    out = []
    for i, (top, _bottom, words) in enumerate(lines):
        if i:
            out.append("\n\n" if top - lines[i - 1][1] >= PARAGRAPH_GAP * height else "\n")
        out.append(" ".join(t for _, t in sorted(words)))
    return "".join(out)


def read_image(image) -> str:
    """The text on one page image (a PIL image); "" when none is found."""
    engine = _ocr_engine()
    step(ocr_page_budget())  # a load worker gives this page its own time budget
    if min(image.size) < MIN_SIDE:
        return ""
    boxes, _ = engine(_prepared(image))
    return layout(boxes or [])
