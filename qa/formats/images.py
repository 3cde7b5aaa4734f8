"""Images of text (scans, photos of pages, screenshots): PNG, JPEG and TIFF read by OCR; each
frame of a multi-page TIFF is a page."""

from __future__ import annotations

import io
from pathlib import Path

from qa.errors import Unreadable
from qa.formats import ocr
from qa.formats.builder import BLOCK_SEPARATOR
from qa.formats.registry import Loaded, loader

PAGE_SEPARATOR = BLOCK_SEPARATOR
MAX_FRAMES = 2000  # a TIFF claiming more pages than this is damaged, not a document


@loader(".png", ".jpg", ".jpeg", ".tif", ".tiff")
def load_image(path: Path, data: bytes) -> Loaded:
    """The OCR text of the image (of each page of a multi-page TIFF; pages as in a PDF)."""
    from PIL import Image, ImageOps, ImageSequence

    if not ocr.available():
        raise Unreadable(f"an image: its text can only be read by OCR — {ocr.INSTALL_HINT}")
    warnings: list[str] = []
    texts: list[str] = []
    try:
        image = Image.open(io.BytesIO(data))
        frames = ImageSequence.Iterator(image)
        for n, frame in enumerate(frames):
            if n >= MAX_FRAMES:
                warnings.append(f"only the first {MAX_FRAMES} pages read")
                break
            try:
                page = ImageOps.exif_transpose(frame.convert("RGB"))
            except Exception as e:  # a damaged frame costs that page (the first one costs the file)
                if n == 0:
                    raise
                warnings.append(f"page {n + 1}: image could not be decoded ({type(e).__name__}: {e})")
                texts.append("")
                continue
            texts.append(ocr.read_image(page).strip())
    except Unreadable:
        raise
    except Image.DecompressionBombError as e:
        raise Unreadable(f"image too large to read safely: {e}") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as e:
        raise Unreadable(f"corrupt or unsupported image: {e or type(e).__name__}") from None
    if not any(texts):
        raise Unreadable(f"no text found by OCR in {len(texts)} page(s)" if len(texts) > 1 else "no text found by OCR")
    if len(texts) == 1:
        return Loaded(texts[0], warnings=tuple(warnings), ocr_pages=(1,))
    pages, pos = [], 0
    for t in texts:
        pages.append(pos)
        pos += len(t) + len(PAGE_SEPARATOR)
    return Loaded(PAGE_SEPARATOR.join(texts), pages=tuple(pages), warnings=tuple(warnings),
                  ocr_pages=tuple(n + 1 for n, t in enumerate(texts) if t))
