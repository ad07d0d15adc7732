"""Programs some tests need that a fresh machine may lack (CI installs them all).

Their tests are skipped with the reason below, and the summary ends with one plain note per
missing program: how many tests did not run, and how to install it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pytest

DOVECOT_MISSING = "dovecot is not installed (Debian: apt-get install dovecot-imapd)"
TESSERACT_MISSING = (
    "tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
)
KIND_OF_TESTS = {DOVECOT_MISSING: "IMAP", TESSERACT_MISSING: "OCR"}


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test gave (pytest keeps it as the third part of longrepr)."""
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return message.removeprefix("Skipped: ")


def missing_tool_notes(skipped: Iterable[pytest.TestReport]) -> list[str]:
    """One line per missing program whose tests were skipped, e.g. "40 IMAP tests did not run:
    dovecot is not installed (…)"."""
    counts = Counter(reason for reason in map(skip_reason, skipped) if reason in KIND_OF_TESTS)
    return [
        f"{n} {KIND_OF_TESTS[reason]} test{'s' if n != 1 else ''} did not run: {reason}"
        for reason, n in counts.items()
    ]
