"""Zip bombs in Office files are refused fast and in little memory (case 028)."""

from __future__ import annotations

import tracemalloc

import pytest

from services.errors import ArchiveLimitsExceeded
from services.extraction import ExtractionLimits, extract
from tests.extraction.helpers import timed
from tests.factories.files import make_docx, make_xlsx, make_zip_bomb_docx

FAST_S = 1.0
PEAK_BYTES = 32 * 1024 * 1024  # the bomb inflates to 150 MiB; a generous bound far below it


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A DOCX whose word/document.xml inflates to 150 MiB, declared honestly."""
    return make_zip_bomb_docx(inflated_mib=150)


@pytest.fixture(scope="module")
def lying_bomb() -> bytes:
    """The same bomb, its zip directories declaring a 4 KiB document part."""
    return make_zip_bomb_docx(inflated_mib=150, lie_about_size=True)


def _refusal_cost(data: bytes) -> tuple[str, float, int]:
    """(reason, seconds, peak traced bytes) of extracting a file expected to be refused."""
    tracemalloc.start()
    try:
        error, elapsed = timed(lambda: _refusal(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return error.reason, elapsed, peak


def _refusal(data: bytes) -> ArchiveLimitsExceeded:
    with pytest.raises(ArchiveLimitsExceeded) as caught:
        extract(data, filename="report.docx")
    return caught.value


def test_case_028_zip_bomb_docx_is_refused_fast_with_bounded_memory(bomb: bytes) -> None:
    """Case 028: the 150 MiB zip-bomb DOCX is archive_limits_exceeded within 1 s and 32 MiB."""
    assert len(bomb) < 2 * 1024 * 1024
    reason, elapsed, peak = _refusal_cost(bomb)
    assert reason == "archive_limits_exceeded"
    assert elapsed < FAST_S
    assert peak < PEAK_BYTES


def test_case_028_bomb_with_lying_sizes_is_caught_while_inflating(lying_bomb: bytes) -> None:
    """Case 028: declared sizes that lie are caught by counting the bytes actually inflated."""
    reason, elapsed, peak = _refusal_cost(lying_bomb)
    assert reason == "archive_limits_exceeded"
    assert elapsed < FAST_S
    assert peak < PEAK_BYTES


def test_case_028_normal_sibling_docx_extracts() -> None:
    """Case 028: an ordinary DOCX next to the bomb extracts normally."""
    result = extract(make_docx(["Onboarding checklist (sample)."]), filename="checklist.docx")
    assert result.text == "Onboarding checklist (sample)."


def test_too_many_members_is_refused() -> None:
    """An OOXML file with more parts than allowed is refused before parsing."""
    data = make_xlsx({f"S{index}": [["x"]] for index in range(30)})
    with pytest.raises(ArchiveLimitsExceeded):
        extract(data, filename="many.xlsx", limits=ExtractionLimits(max_archive_members=20))


def test_implausible_ratio_is_refused() -> None:
    """A part compressed far beyond the allowed ratio is refused from declared sizes alone."""
    data = make_zip_bomb_docx(inflated_mib=2)
    with pytest.raises(ArchiveLimitsExceeded) as caught:
        extract(data, filename="small-bomb.docx")
    assert "ratio" in caught.value.user_message
