"""General behaviour of parse_message beyond the named real-world cases."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

import mail.parse as parse_module
from mail.parse import FORWARDED, parse_message
from tests.factories import emails as factory
from tests.factories.emails import CRLF, b64_lines, build_email, message, mime_part
from tests.factories.files import make_pdf

PDF = make_pdf(["Quarterly report"])


def mixed_mail(*parts: str, subject: str = "Files") -> bytes:
    """A multipart/mixed mail with a short text body followed by the given raw parts."""
    body_part = mime_part(["Content-Type: text/plain; charset=us-ascii"], "See attached.")
    body = factory.multipart("b-test", [body_part, *parts])
    text = message(
        sender="Dana Sender <dana@example.com>",
        subject=subject,
        message_id="test-1@mail.example.com",
        content_type='multipart/mixed; boundary="b-test"',
        body=body,
    )
    return (text + CRLF).encode("utf-8")


def pdf_part(headers: list[str], data: bytes = PDF) -> str:
    return mime_part([*headers, "Content-Transfer-Encoding: base64"], b64_lines(data))


def test_envelope_fields_are_decoded_and_normalised() -> None:
    """Message-ID loses its brackets, the sender is a bare lower-case address, date is aware."""
    raw = build_email(
        "Jörg Müller <Joerg.Mueller@Example.COM>", "ingest@example.org", "Grüße aus Köln", "Hallo"
    )
    mail = parse_message(raw)

    assert mail.message_id is not None and "<" not in mail.message_id
    assert mail.sender == "joerg.mueller@example.com"
    assert mail.sender_name == "Jörg Müller"
    assert mail.subject == "Grüße aus Köln"
    assert mail.date == datetime(2024, 3, 5, 9, 15, tzinfo=timezone(timedelta(hours=1)))


def test_mail_without_attachments_yields_one_body_item() -> None:
    """A plain mail becomes one text item named after the subject, flagged is_body."""
    mail = parse_message(
        build_email("a@example.com", "b@example.com", "Team lunch", "Friday at noon.\n")
    )

    assert len(mail.parts) == 1
    item = mail.parts[0]
    assert item.is_body and item.filename == "Team lunch.txt"
    assert item.declared_type == "text/plain" and item.provenance is None
    assert item.data == b"Friday at noon."
    assert mail.body_text == "Friday at noon."


def test_body_item_is_optional_and_never_empty() -> None:
    """No body item when disabled, nor when the body is only whitespace."""
    raw = build_email("a@example.com", "b@example.com", "Lunch", "Friday.")
    assert parse_message(raw, body_as_item=False).parts == []
    blank = build_email("a@example.com", "b@example.com", "", "   \n\n")
    assert parse_message(blank).parts == []


def test_body_item_name_has_no_path_separators() -> None:
    """A subject with slashes still gives a flat file name; no subject gives message.txt."""
    mail = parse_message(build_email("a@example.com", "b@example.com", "Q1/Q2 plan", "Text."))
    assert mail.parts[0].filename == "Q1-Q2 plan.txt"
    mail = parse_message(build_email("a@example.com", "b@example.com", "", "Text."))
    assert mail.parts[0].filename == "message.txt"


def test_html_only_body_is_converted_to_text() -> None:
    """Without a plain alternative the HTML body is turned into readable text."""
    html = mime_part(
        ["Content-Type: text/html; charset=utf-8"],
        "<html><head><style>p{}</style></head><body><p>Hello <b>team</b></p>"
        "<p>Second&nbsp;line</p></body></html>",
    )
    raw = (
        message(
            sender="a@example.com",
            subject="HTML",
            message_id="h@example.com",
            content_type='multipart/mixed; boundary="b"',
            body=factory.multipart("b", [html]),
        )
        + CRLF
    ).encode()
    mail = parse_message(raw)

    assert "Hello" in mail.body_text and "team" in mail.body_text
    assert "Second\xa0line" in mail.body_text
    assert "<" not in mail.body_text and "p{}" not in mail.body_text


def test_text_part_with_a_name_is_an_attachment_not_body() -> None:
    """text/plain and text/csv parts that carry a name are files, not the message body."""
    raw = build_email(
        "a@example.com",
        "b@example.com",
        "Data",
        "Body text.",
        attachments=[
            ("notes.txt", "text/plain", b"inner notes"),
            ("data.csv", "text/csv", b"a,b\n1,2\n"),
        ],
    )
    mail = parse_message(raw)

    assert [p.filename for p in mail.parts] == ["notes.txt", "data.csv"]
    assert mail.body_text == "Body text."


def test_unnamed_document_gets_a_synthesized_name() -> None:
    """A PDF part with neither name nor disposition is kept as attachment-N.pdf."""
    mail = parse_message(mixed_mail(pdf_part(["Content-Type: application/octet-stream"])))

    assert [p.filename for p in mail.parts] == ["attachment-2.pdf"]
    assert mail.parts[0].data == PDF


def test_unnamed_non_document_is_ignored_and_recorded() -> None:
    """An unnamed, undispositioned binary that is no document is skipped, not stored."""
    mail = parse_message(
        mixed_mail(
            pdf_part(["Content-Type: application/octet-stream"], b"\x00\x01\x02 not a document")
        )
    )

    assert [(p.filename, p.is_body) for p in mail.parts] == [("Files.txt", True)]
    assert [(s.filename, s.reason) for s in mail.skipped] == [(None, "not_a_document")]


def test_image_with_a_name_not_referenced_by_the_body_is_an_attachment() -> None:
    """Only cid:-referenced images are decoration; a named photo is an attachment."""
    photo = pdf_part(
        [
            'Content-Type: image/png; name="photo.png"',
            "Content-Disposition: inline; filename=photo.png",
            "Content-ID: <photo-1@example.com>",
        ],
        factory.LOGO_PNG,
    )
    mail = parse_message(mixed_mail(photo))

    assert [p.filename for p in mail.parts] == ["photo.png"]
    assert mail.skipped == []


def test_filename_path_components_and_control_characters_are_removed() -> None:
    """Path parts, control characters and non-NFC forms never reach the file name."""
    traversal = pdf_part(
        [
            "Content-Type: application/pdf",
            'Content-Disposition: attachment; filename="..\\\\..\\\\evil\x07.pdf"',
        ]
    )
    unix = pdf_part(
        [
            "Content-Type: application/pdf",
            'Content-Disposition: attachment; filename="../../etc/report.pdf"',
        ]
    )
    decomposed = pdf_part(
        [
            "Content-Type: application/pdf",
            "Content-Disposition: attachment; filename*=utf-8''Re%CC%81sume%CC%81.pdf",
        ]
    )
    mail = parse_message(mixed_mail(traversal, unix, decomposed))

    assert [p.filename for p in mail.parts] == ["evil.pdf", "report.pdf", "Résumé.pdf"]


def test_compat32_fallback_still_decodes_encoded_word_names() -> None:
    """After the whole-message fallback, split encoded-words are decoded by hand."""
    words = factory._split_b_words("März.pdf", 2)
    named = pdf_part(["Content-Type: application/pdf;", f' name="{words}"'])
    crashing = pdf_part(
        [
            "Content-Type: application/pdf; name*",
            'Content-Disposition: attachment; filename="second.pdf"',
        ]
    )
    mail = parse_message(mixed_mail(named, crashing))

    assert [p.filename for p in mail.parts] == ["März.pdf", "second.pdf"]
    assert "IndexError in header parse: fell back to compat32" in mail.defects


def test_header_crash_in_one_part_falls_back_for_that_part_only() -> None:
    """A bare `filename*` in Content-Disposition is re-read with compat32; siblings unharmed."""
    bad = pdf_part(
        [
            'Content-Type: application/pdf; name="from-type.pdf"',
            "Content-Disposition: attachment; filename*",
        ]
    )
    good = pdf_part(
        [
            'Content-Type: application/pdf; name="good.pdf"',
            'Content-Disposition: attachment; filename="good.pdf"',
        ]
    )
    mail = parse_message(mixed_mail(bad, good))

    assert [p.filename for p in mail.parts] == ["from-type.pdf", "good.pdf"]
    assert any("fell back to compat32" in defect for defect in mail.defects)


def test_broken_tnef_beside_a_good_pdf_keeps_the_pdf() -> None:
    """A damaged winmail.dat fails on its own; the PDF next to it is unaffected."""
    tnef = mime_part(
        [
            'Content-Type: application/ms-tnef; name="winmail.dat"',
            "Content-Transfer-Encoding: base64",
        ],
        b64_lines(b"\x78\x9f\x3e\x22garbage"),
    )
    good = pdf_part(['Content-Type: application/pdf; name="report.pdf"'])
    mail = parse_message(mixed_mail(tnef, good))

    assert [(p.filename, p.failure and p.failure[0]) for p in mail.parts] == [
        ("winmail.dat", "tnef_unreadable"),
        ("report.pdf", None),
    ]


def test_a_part_that_raises_becomes_a_failed_part_and_siblings_survive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any unexpected error while reading one part is contained to that part."""
    real_sniff = parse_module.sniff

    def exploding_sniff(data: bytes) -> str | None:
        if data.startswith(b"BOOM"):
            raise RuntimeError("simulated bug")
        return real_sniff(data)

    monkeypatch.setattr(parse_module, "sniff", exploding_sniff)
    bad = pdf_part(['Content-Type: application/octet-stream; name="bad.bin"'], b"BOOM!")
    good = pdf_part(['Content-Type: application/pdf; name="good.pdf"'])
    mail = parse_message(mixed_mail(bad, good))

    assert [(p.filename, p.failure and p.failure[0]) for p in mail.parts] == [
        ("bad.bin", "part_unreadable"),
        ("good.pdf", None),
    ]
    assert "RuntimeError while reading a part" in mail.defects


def _chain(levels: int) -> bytes:
    """A mail forwarding a mail forwarding ... `levels` deep, each with its own CSV."""
    raw = build_email(
        "a@example.com",
        "b@example.com",
        f"Level {levels}",
        "innermost",
        attachments=[(f"level{levels}.csv", "text/csv", b"x,y\n")],
    )
    for level in range(levels - 1, -1, -1):
        raw = build_email(
            "a@example.com",
            "b@example.com",
            f"Level {level}",
            "body",
            attachments=[(f"level{level}.csv", "text/csv", b"x,y\n")],
            forwarded=raw,
        )
    return raw


def test_forwarded_nesting_is_bounded_by_max_depth() -> None:
    """Beyond max_depth a forwarded mail is kept whole as .eml but not descended into."""
    mail = parse_message(_chain(4), max_depth=2)

    assert [p.filename for p in mail.parts] == [
        "level0.csv",
        "level1.csv",
        "level2.csv",
        "Level 3.eml",
    ]
    assert all(p.provenance == FORWARDED for p in mail.parts[1:])
    assert mail.parts[1].forwarded is not None and mail.parts[1].forwarded["subject"] == "Level 1"
    assert any("nested deeper than 2 levels" in defect for defect in mail.defects)


def test_default_depth_descends_five_levels() -> None:
    """With the default bound all five nested levels are unpacked."""
    mail = parse_message(_chain(5))

    assert "level5.csv" in [p.filename for p in mail.parts]
    assert not any("nested deeper" in defect for defect in mail.defects)


def test_base64_encoded_rfc822_part_is_decoded_before_descending() -> None:
    """A message/rfc822 part sent with base64 transfer encoding is still read as a mail."""
    inner = factory.meeting_notes_eml()
    part = mime_part(
        ["Content-Type: message/rfc822", "Content-Transfer-Encoding: base64"], b64_lines(inner)
    )
    mail = parse_message(mixed_mail(part))

    assert [p.filename for p in mail.parts] == ["Meeting notes 2024-03-04.eml"]
    assert parse_message(mail.parts[0].data).body_text == factory.MEETING_NOTES_TEXT


def test_octet_stream_mail_without_a_name_is_sniffed_as_forwarded() -> None:
    """Bytes that look like a mail are treated as a forwarded message even without .eml."""
    part = mime_part(
        ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"],
        b64_lines(factory.contract_mail()),
    )
    mail = parse_message(mixed_mail(part))

    assert [p.filename for p in mail.parts] == ["Contract_v3.pdf"]
    assert [(s.filename, s.reason) for s in mail.skipped] == [
        ("Contract v3 for signature.eml", "forwarded_message_unpacked")
    ]


def test_signatures_are_skipped() -> None:
    """S/MIME signature parts are not offered as documents."""
    signature = mime_part(
        [
            'Content-Type: application/pkcs7-signature; name="smime.p7s"',
            "Content-Transfer-Encoding: base64",
        ],
        base64.b64encode(b"\x30\x82sig").decode(),
    )
    mail = parse_message(mixed_mail(signature))

    assert [(s.filename, s.reason) for s in mail.skipped] == [("smime.p7s", "signature")]


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe garbage", b"Subject: only headers", b"\r\n\r\n", b"From: \r\n\r\n"],
)
def test_garbage_never_raises(raw: bytes) -> None:
    """Whatever arrives, parse_message returns a ParsedMail."""
    mail = parse_message(raw)
    assert isinstance(mail.defects, list)


def test_build_email_round_trips_attachments_and_forwarded_mail() -> None:
    """The general builder's attachments and forwarded mail all come back out."""
    raw = build_email(
        "a@example.com",
        "b@example.com",
        "Pack",
        "See files.",
        attachments=[("report.pdf", "application/pdf", PDF)],
        forwarded=factory.meeting_notes_eml(),
    )
    mail = parse_message(raw)

    assert [p.filename for p in mail.parts] == ["report.pdf", "Meeting notes 2024-03-04.eml"]
    assert mail.parts[0].data == PDF


def test_nested_angle_bracket_boundary_is_recovered_too() -> None:
    """A << >> boundary on an inner multipart is rewritten like a top-level one."""
    inner = factory.multipart(
        "<<inner-1>>",
        [
            mime_part(["Content-Type: text/plain"], "Inner body."),
            pdf_part(['Content-Type: application/pdf; name="inner.pdf"']),
        ],
    )
    nested = mime_part(['Content-Type: multipart/mixed; boundary="<<inner-1>>"'], inner)
    mail = parse_message(mixed_mail(nested))

    assert [p.filename for p in mail.parts] == ["inner.pdf"]
    assert "StartBoundaryNotFoundDefect recovered" in mail.defects
    assert "See attached." in mail.body_text and "Inner body." in mail.body_text


def test_forwarded_mail_the_stdlib_cannot_reserialise_is_still_kept() -> None:
    """An unsplit multipart with raw 8-bit bytes inside a forwarded mail does not fail the part."""
    inner = (
        "From: Legal <legal@example.net>\r\nSubject: Broken inner\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed\u00e1 boundary="b-inner"\r\n\r\n'
        "--b-inner\r\nContent-Type: text/plain\r\n\r\nPlea\u2018se sign.\r\n--b-inner--"
    )
    raw = mixed_mail(mime_part(["Content-Type: message/rfc822"], inner))
    mail = parse_message(raw)

    assert [p.filename for p in mail.parts] == ["Broken inner.eml"]
    assert mail.parts[0].failure is None
    assert not any("while reading a part" in defect for defect in mail.defects)


def test_tnef_attachment_names_in_the_windows_codepage_are_decoded() -> None:
    """Outlook writes attachment titles in cp1252; they come out as proper text."""
    winmail = factory.make_tnef([("Übersicht.csv", b"a;b\r\n")])
    mail = parse_message(factory.tnef_mail(winmail))

    assert [p.filename for p in mail.parts] == ["Übersicht.csv"]
    assert mail.parts[0].declared_type == "text/csv"
