"""Bare file analysis: extraction then the ContentMind agent, pure and synchronous.

The worker runs this in its analysis pool; benchmarks run it in-process as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from agents.contentmind import Analysis, ContentMindAgent
from agents.llm import LLMConfig
from services.errors import ContentMindError, ExtractionError, TooLarge
from services.extraction import Extracted, ExtractionLimits, extract


@dataclass(frozen=True)
class FileAnalysis:
    extracted: Extracted
    analysis: Analysis


def analyze_file(
    data: bytes,
    *,
    filename: str,
    declared_type: str | None,
    limits: ExtractionLimits,
    llm: LLMConfig | None = None,
) -> FileAnalysis:
    """Text from the bytes (raising ExtractionError subclasses), then summary and keywords."""
    extracted = extract(data, filename=filename, declared_type=declared_type, limits=limits)
    agent = ContentMindAgent(llm=llm, max_input_chars=limits.max_chars)
    analysis = agent.analyze(extracted.text, title=extracted.title, filename=filename)
    return FileAnalysis(extracted=extracted, analysis=analysis)


def safe_analyze(data: bytes, **kwargs: Any) -> FileAnalysis:
    """analyze_file in the pool: a library's unexpected exception is a permanent read failure.

    It lives here, in the module the pool's fork server preloads, so a fresh pool process (after
    a restart) runs it at once instead of first importing the worker's modules.
    """
    try:
        return analyze_file(data, **kwargs)
    except ContentMindError:
        raise
    except MemoryError:
        raise TooLarge("Reading the file needed more memory than allowed.") from None
    except Exception as error:  # a reader library's own bug on this input
        structlog.get_logger(__name__).exception("reader_crashed", error_type=type(error).__name__)
        raise ExtractionError(
            "The file could not be read; it may be damaged or use an unusual format."
        ) from None
