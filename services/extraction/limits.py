"""Bounds on the work one extraction may do, so a hostile or huge file cannot exhaust the worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractionLimits:
    """How much an extraction may read, inflate and recognise. Built by the caller from Settings."""

    max_chars: int = 2_000_000  # text truncated beyond this (metadata["truncated"] = True)
    max_pages: int = 500  # PDF pages, PPTX slides and TIFF frames read at most
    max_archive_members: int = 5000  # OOXML zip members
    max_archive_uncompressed: int = 50 * 1024 * 1024
    max_compression_ratio: float = 100.0
    ocr_enabled: bool = True  # use tesseract if present on PATH
    ocr_languages: str = "eng"
    ocr_timeout_s: float = 60.0  # budget for all OCR of one file
    max_sheet_rows: int = 100_000  # XLSX rows read per sheet (empty rows count)


DEFAULT_LIMITS = ExtractionLimits()
