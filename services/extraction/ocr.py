"""Optical character recognition with tesseract (through pytesseract), under one time budget."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pytesseract
from PIL import Image

from services.errors import NoText, NoTextLayer
from services.extraction.limits import ExtractionLimits

OCR_DPI = 300
_OCR_BROKEN = "Text recognition (OCR) failed on this server; the file needs OCR to be read."
_OCR_TIMED_OUT = "Reading the scanned pages took too long; no text was recognised in time."
MAX_SIDE_PX = 5000  # larger pages are scaled down: tesseract gains nothing past ~300 dpi


@dataclass(frozen=True)
class OcrResult:
    text: str
    pages: int
    timed_out: bool


def ocr_available(limits: ExtractionLimits) -> bool:
    """OCR is enabled and the tesseract binary is on PATH."""
    return limits.ocr_enabled and shutil.which("tesseract") is not None


def require_ocr(limits: ExtractionLimits) -> None:
    """Raise NoTextLayer when the file needs OCR and none is available."""
    if not ocr_available(limits):
        raise NoTextLayer()


def recognise(images: Iterable[Image.Image], limits: ExtractionLimits) -> OcrResult:
    """Text of each image in turn until the images or the time budget run out.

    Raises NoText when the budget ran out before any text was recognised.
    """
    deadline = time.monotonic() + limits.ocr_timeout_s
    texts: list[str] = []
    timed_out = False
    for image in images:
        remaining = deadline - time.monotonic()
        text = _recognise_one(image, limits.ocr_languages, remaining) if remaining > 0 else None
        if text is None:
            timed_out = True
            break
        texts.append(text)
    joined = "\n\n".join(texts)
    if timed_out and not joined.strip():
        raise NoText(_OCR_TIMED_OUT)
    return OcrResult(text=joined, pages=len(texts), timed_out=timed_out)


def _recognise_one(image: Image.Image, languages: str, timeout_s: float) -> str | None:
    """The image's text, or None when tesseract ran out of time."""
    try:
        text = pytesseract.image_to_string(prepare(image), lang=languages, timeout=timeout_s)
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError) as exc:
        raise NoTextLayer(_OCR_BROKEN) from exc
    except RuntimeError as exc:  # pytesseract signals its timeout as a bare RuntimeError
        if "timeout" in str(exc).lower():
            return None
        raise NoTextLayer(_OCR_BROKEN) from exc
    return str(text)


def prepare(image: Image.Image) -> Image.Image:
    """Grayscale, and no larger than tesseract needs."""
    image = image.convert("L")
    longest = max(image.size)
    if longest > MAX_SIDE_PX:
        scale = MAX_SIDE_PX / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image
