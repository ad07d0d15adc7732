"""Encrypted PDFs: permissions-only ones are read, password ones are refused (case 025)."""

from __future__ import annotations

import pytest

from services.errors import PasswordProtected
from services.extraction import extract
from tests.factories.files import make_pdf_password_required, make_pdf_permissions_only_encrypted

PAYROLL = ["Payroll summary Q1", "Total net pay: 12,345.67 EUR"]


def test_case_025_permissions_only_pdf_extracts() -> None:
    """Case 025: a PDF encrypted with an empty user password extracts like any other."""
    result = extract(make_pdf_permissions_only_encrypted(PAYROLL), filename="payroll.pdf")
    assert "Payroll summary Q1" in result.text
    assert "12,345.67 EUR" in result.text
    assert result.metadata["encrypted"] is True
    assert result.metadata["ocr"] is False


def test_case_025_password_required_pdf_is_refused() -> None:
    """Case 025: a PDF that needs a password fails with encrypted_password_required."""
    data = make_pdf_password_required(PAYROLL, password="s3cret")
    with pytest.raises(PasswordProtected) as caught:
        extract(data, filename="payroll.pdf", declared_type="application/pdf")
    assert caught.value.reason == "encrypted_password_required"
