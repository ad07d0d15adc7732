"""The real-world failure cases, as far as they concern turning raw mail into parts."""

from __future__ import annotations

import io
import unicodedata

from pypdf import PdfReader

from mail.parse import FORWARDED, WINMAIL, MailPart, ParsedMail, parse_message
from mail.sniff import sniff
from tests.factories import emails as factory


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def part_named(mail: ParsedMail, filename: str) -> MailPart:
    matches = [part for part in mail.parts if part.filename == filename]
    assert len(matches) == 1, [part.filename for part in mail.parts]
    return matches[0]


def test_case_001_inline_pdf_is_attachment_logo_skipped() -> None:
    """Apple Mail's inline PDF deep in alternative/related/mixed is a part; the cid: logo is not."""
    mail = parse_message(factory.case_001_inline_pdf_apple_mail())

    assert [part.filename for part in mail.parts] == ["Invoice_4711.pdf"]
    invoice = mail.parts[0]
    assert invoice.declared_type == "application/pdf"
    assert invoice.provenance is None and invoice.failure is None and not invoice.is_body
    text = pdf_text(invoice.data)
    assert "INVOICE 4711" in text and "249.00 EUR" in text
    assert [(s.filename, s.reason) for s in mail.skipped] == [
        ("logo.png", "inline_image_referenced_by_body")
    ]
    assert mail.body_text == "Here is the invoice, please file it."
    assert mail.subject == "Fwd: Invoice 4711"


def test_case_002_octet_stream_pdf_sniffed_and_blob_kept_for_the_pipeline() -> None:
    """A PDF sent as octet-stream without disposition is found; blob.bin is passed on unchanged."""
    mail = parse_message(factory.case_002_octet_stream_pdf())

    assert [part.filename for part in mail.parts] == ["Rechnung_2024-017.pdf", "blob.bin"]
    invoice, blob = mail.parts
    assert invoice.declared_type == "application/octet-stream"
    assert sniff(invoice.data) == "pdf"
    text = pdf_text(invoice.data)
    assert "Rechnung 2024-017" in text and "1.190,00 EUR" in text
    assert blob.data == factory.BLOB_BIN and blob.declared_type == "application/octet-stream"
    assert sniff(blob.data) is None
    assert mail.body_text == "Anbei Ihre Rechnung."


def test_case_003_encoded_word_names_split_mid_character_are_decoded() -> None:
    """Encoded-words in quoted, folded names (cut inside 'ä') decode to exact NFC names."""
    mail = parse_message(factory.case_003_rfc2047_filenames())

    names = [part.filename for part in mail.parts]
    assert names == ["Rechnungsübersicht März 2024.pdf", "Résumé 2024.txt"]
    for name in names:
        assert name == unicodedata.normalize("NFC", name)
        assert "=?" not in name and "\r" not in name and "\n" not in name
    assert "Rechnungsuebersicht Maerz 2024" in pdf_text(mail.parts[0].data)
    assert mail.parts[1].data.decode("latin-1") == factory.RESUME_TEXT
    assert mail.body_text == "Zwei Dateien anbei."


def test_case_005_angle_bracket_boundary_is_recovered() -> None:
    """A "<<...>>" boundary is re-read literally: body and roomplan.csv come back, defect noted."""
    mail = parse_message(factory.case_005_boundary_angle_brackets())

    assert mail.body_text == "Room plan attached."
    roomplan = part_named(mail, "roomplan.csv")
    rows = roomplan.data.decode().splitlines()
    assert rows[0] == "date,room,topic" and len(rows) == 3
    assert "StartBoundaryNotFoundDefect recovered" in mail.defects
    assert "boundary_not_found" not in mail.defects


def test_case_005_unrecoverable_boundary_is_reported_not_silent() -> None:
    """When no delimiter matches the declared boundary the mail says boundary_not_found."""
    raw = factory.case_005_boundary_angle_brackets().replace(
        b'boundary="<<7f3a-20240305-b9>>"', b'boundary="declared-but-never-used"'
    )
    mail = parse_message(raw)

    assert "boundary_not_found" in mail.defects
    assert "StartBoundaryNotFoundDefect" in mail.defects
    assert mail.parts == []


def test_case_007_base64_padded_chunks_keep_every_line() -> None:
    """Line-by-line padded base64 decodes to all four CSV lines and the oddity is recorded."""
    mail = parse_message(factory.case_007_base64_padded_chunks())

    stock = part_named(mail, "stock.csv")
    assert stock.data.decode().splitlines() == [
        "sku,qty,price",
        "A-100,4,9.99",
        "B-200,1,120.00",
        "C-300,12,0.50",
    ]
    assert stock.failure is None
    assert any("base64" in defect for defect in mail.defects)


def test_case_007_undecodable_base64_is_marked_not_truncated_silently() -> None:
    """A base64 body with a dangling character becomes a part marked base64_undecodable."""
    raw = factory.case_007_base64_padded_chunks().replace(
        b"Qy0zMDAsMTIsMC41MAo=", b"Qy0zMDAsMTIsMC41MAo=\r\nQ"
    )
    mail = parse_message(raw)

    stock = part_named(mail, "stock.csv")
    assert stock.failure is not None and stock.failure[0] == "base64_undecodable"
    assert "C-300,12,0.50" in stock.data.decode()


def test_case_009_bare_name_star_does_not_sink_the_mail() -> None:
    """`name*` without a value crashes policy.default; compat32 still yields both files."""
    mail = parse_message(factory.case_009_param_name_star())

    assert [part.filename for part in mail.parts] == ["delivery-note-88-231.pdf", "pallets.csv"]
    assert "Delivery note 88-231" in pdf_text(mail.parts[0].data)
    assert mail.parts[1].data.decode().splitlines()[1:] == ["P1,410", "P2,388", "P3,402"]
    assert "IndexError in header parse: fell back to compat32" in mail.defects
    assert mail.subject == "Delivery note" and mail.sender == "wms@example.net"
    assert mail.body_text == "Delivery documents attached."


def test_case_010_forwarded_message_and_eml_are_parts_and_descended() -> None:
    """The contract inside the forwarded mail carries that mail's subject, sender and body;
    the attached .eml (no attachments of its own) is one part."""
    mail = parse_message(factory.case_010_forwarded_rfc822())

    assert [(p.filename, p.declared_type, p.provenance) for p in mail.parts] == [
        ("Contract_v3.pdf", "application/pdf", FORWARDED),
        ("Meeting notes.eml", "message/rfc822", FORWARDED),
    ]
    assert all(part.failure is None for part in mail.parts)
    contract = part_named(mail, "Contract_v3.pdf")
    assert "CONTRACT v3" in pdf_text(contract.data)
    assert contract.forwarded is not None
    assert contract.forwarded["subject"] == "Contract v3 for signature"
    assert contract.forwarded["sender"] == "legal@example.net"
    assert "please sign" in contract.forwarded["body"] and "by Friday" in contract.forwarded["body"]
    assert ("Contract v3 for signature.eml", "forwarded_message_unpacked") in [
        (s.filename, s.reason) for s in mail.skipped
    ]

    notes = parse_message(part_named(mail, "Meeting notes.eml").data)
    assert notes.body_text == factory.MEETING_NOTES_TEXT
    assert mail.body_text.startswith("Forwarding the original mail")


def test_case_010_standalone_eml_parses_to_one_body_item() -> None:
    """The Slack-path `Meeting notes.eml` parses to its text as a single body item."""
    mail = parse_message(factory.meeting_notes_eml())

    assert len(mail.parts) == 1 and mail.parts[0].is_body
    assert mail.parts[0].data.decode() == factory.MEETING_NOTES_TEXT
    assert mail.parts[0].filename == "Meeting notes 2024-03-04.txt"


def test_case_011_tnef_attachments_replace_winmail_dat() -> None:
    """winmail.dat is unpacked into Q1 Budget.csv and Notes.txt and itself skipped."""
    mail = parse_message(factory.case_011_tnef_winmail())

    assert [(p.filename, p.provenance) for p in mail.parts] == [
        ("Q1 Budget.csv", WINMAIL),
        ("Notes.txt", WINMAIL),
    ]
    budget = part_named(mail, "Q1 Budget.csv").data.decode()
    assert "Travel;1200" in budget and "Software;4300" in budget
    assert part_named(mail, "Notes.txt").data == factory.NOTES_TXT
    assert [(s.filename, s.reason) for s in mail.skipped] == [("winmail.dat", "container_unpacked")]
    assert mail.unpacked == [("tnef", 2)]
    assert mail.body_text == "Please find the Q1 files attached."


def test_case_011_unreadable_tnef_fails_with_its_own_reason() -> None:
    """A truncated winmail.dat is a failed part (tnef_unreadable), not an unsupported .dat."""
    mail = parse_message(factory.tnef_mail(factory.case_011_winmail()[:200]))

    assert len(mail.parts) == 1
    broken = mail.parts[0]
    assert broken.filename == "winmail.dat"
    assert broken.failure is not None and broken.failure[0] == "tnef_unreadable"
    assert mail.unpacked == [] and mail.skipped == []


def test_case_011_tnef_body_used_when_the_mail_has_no_other() -> None:
    """The body hidden in the TNEF stream becomes the mail body when there is no text part."""
    mail = parse_message(factory.tnef_mail(factory.case_011_winmail(), body=None))

    assert mail.body_text == "Please find the Q1 files attached."
    assert len(mail.parts) == 2
