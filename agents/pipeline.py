"""Bare file analysis: extraction then the ContentMind agent, pure and synchronous.

The worker runs this in its analysis pool; benchmarks run it in-process as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.contentmind import Analysis, ContentMindAgent
from agents.llm import LLMConfig
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
