"""Shared helpers for the extraction tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from services.extraction import ExtractionLimits
from tests.optional_tools import TESSERACT_MISSING

T = TypeVar("T")

NO_OCR = ExtractionLimits(ocr_enabled=False)

# OCR tests run wherever tesseract is installed; in CI its absence is a failure, not a skip.
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None and not os.environ.get("CI"),
    reason=TESSERACT_MISSING,
)


def squash(text: str) -> str:
    """Whitespace collapsed to single spaces, for comparing OCR output."""
    return " ".join(text.split())


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """Run ``action`` and return its result and the seconds it took."""
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start
