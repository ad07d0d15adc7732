"""Raw email builders for tests.

``build_email`` makes well-formed mail with ``email.message.EmailMessage``. The ``case_NNN_*``
builders reproduce, byte for byte where it matters, the MIME structure of the real-world failure
cases (Apple Mail inline PDFs, broken boundaries, chunked base64, TNEF, ...). They are written
as raw text on purpose: a well-behaved generator cannot produce the faults under test.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage

from tests.factories.files import make_pdf

CRLF = "\r\n"
DATE = "Tue, 05 Mar 2024 09:15:00 +0100"

# A 1x1 transparent PNG, as Apple Mail attaches signature logos.
LOGO_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

INVOICE_LINES = ("INVOICE 4711", "Customer: Example Corp", "Total due: 249.00 EUR by 2024-03-31")
RECHNUNG_LINES = ("Rechnung 2024-017", "Leistungszeitraum: Februar 2024", "Betrag: 1.190,00 EUR")
UEBERSICHT_LINES = ("Rechnungsuebersicht Maerz 2024", "Anzahl Rechnungen: 3")
DELIVERY_LINES = ("Delivery note 88-231", "Pallets: 3")
CONTRACT_LINES = (
    "CONTRACT v3",
    "Parties: Example Corp and Example Supplier Ltd",
    "Term: 12 months",
)

RESUME_TEXT = "Lebenslauf (Kurzfassung): Projektleitung seit 2019."
ROOMPLAN_CSV = "date,room,topic\r\n2024-03-06,B2,Kickoff\r\n2024-03-13,B2,Review"
PALLETS_CSV = "pallet,weight_kg\r\nP1,410\r\nP2,388\r\nP3,402"
STOCK_LINES = ("sku,qty,price\n", "A-100,4,9.99\n", "B-200,1,120.00\n", "C-300,12,0.50\n")
MEETING_NOTES_TEXT = "Agreed: budget freeze until April; hiring continues."
Q1_BUDGET_CSV = b"item;amount\r\nTravel;1200\r\nSoftware;4300\r\n"
NOTES_TXT = b"Remember to review travel costs before the board meeting.\r\n"
BLOB_BIN = bytes(range(256)) * 2


# --- TNEF ----------------------------------------------------------------------------------


def _tnef_object(level: int, attribute: int, kind: int, data: bytes) -> bytes:
    header = struct.pack("<BHHI", level, attribute, kind, len(data))
    return header + data + struct.pack("<H", sum(data) & 0xFFFF)


_ATT_RENDERING = b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 12


def make_tnef(
    attachments: Sequence[tuple[str, bytes]],
    *,
    subject: str | None = None,
    body: str | None = None,
) -> bytes:
    """A TNEF (winmail.dat) stream: message class, optional subject/body, then attachments.

    Each attachment is attAttachRendData + attAttachTitle + attAttachData, as Outlook writes it.
    """
    out = b"\x78\x9f\x3e\x22" + struct.pack("<H", 1)
    out += _tnef_object(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _tnef_object(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += _tnef_object(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    if subject is not None:
        out += _tnef_object(1, 0x8004, 0x0001, subject.encode("cp1252") + b"\x00")
    if body is not None:
        out += _tnef_object(1, 0x800C, 0x0002, body.encode("cp1252"))  # attBody
    for name, data in attachments:
        out += _tnef_object(2, 0x9002, 0x0006, _ATT_RENDERING)  # attAttachRendData
        out += _tnef_object(2, 0x8010, 0x0001, name.encode("cp1252") + b"\x00")  # attAttachTitle
        out += _tnef_object(2, 0x800F, 0x0006, data)  # attAttachData
    return out


# --- raw MIME helpers ----------------------------------------------------------------------


def b64_lines(data: bytes) -> str:
    """base64 in 76-character lines, as mail clients write it."""
    encoded = base64.b64encode(data).decode("ascii")
    return CRLF.join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def mime_part(headers: Sequence[str], body: str) -> str:
    return CRLF.join([*headers, "", body])


def multipart(boundary: str, parts: Sequence[str]) -> str:
    """Body of a multipart: delimiter, part, ..., close delimiter."""
    return CRLF.join([*(f"--{boundary}{CRLF}{part}" for part in parts), f"--{boundary}--"])


def message(
    *,
    sender: str,
    subject: str,
    message_id: str,
    content_type: str,
    body: str,
    to: str = "ingest@example.org",
) -> str:
    """A top-level message as text (CRLF line ends, no trailing newline)."""
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {DATE}",
        f"Message-ID: <{message_id}>",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
    ]
    return mime_part(headers, body)


def _raw(text: str) -> bytes:
    return (text + CRLF).encode("utf-8")


def build_email(
    sender: str,
    to: str,
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    forwarded: bytes | None = None,
) -> bytes:
    """A well-formed mail with a text body, attachments and optionally a forwarded message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    digest = hashlib.sha256(f"{sender}|{subject}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{digest}@test.example.com>"
    msg.set_content(body)
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if forwarded is not None:
        msg.add_attachment(message_from_bytes(forwarded, policy=policy.default))
    return msg.as_bytes(policy=policy.SMTP)


# --- the real-world cases ------------------------------------------------------------------


def case_001_inline_pdf_apple_mail() -> bytes:
    """alternative(plain, related(mixed(html, inline PDF, html), inline cid: logo))."""
    html = (
        "<html><body><p>Here is the invoice, please file it.</p>"
        '<img src="cid:logo-1@example.com" alt="logo"></body></html>'
    )
    mixed = multipart(
        "Apple-Mail=_M1",
        [
            mime_part(
                ["Content-Type: text/html; charset=us-ascii", "Content-Transfer-Encoding: 7bit"],
                html,
            ),
            mime_part(
                [
                    "Content-Disposition: inline; filename=Invoice_4711.pdf",
                    'Content-Type: application/pdf; x-unix-mode=0644; name="Invoice_4711.pdf"',
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(make_pdf(INVOICE_LINES)),
            ),
            mime_part(
                ["Content-Type: text/html; charset=us-ascii", "Content-Transfer-Encoding: 7bit"],
                "<html><body><p>-- <br>Dana</p></body></html>",
            ),
        ],
    )
    related = multipart(
        "Apple-Mail=_R1",
        [
            mime_part(['Content-Type: multipart/mixed; boundary="Apple-Mail=_M1"'], mixed + CRLF),
            mime_part(
                [
                    "Content-Transfer-Encoding: base64",
                    "Content-Disposition: inline; filename=logo.png",
                    'Content-Type: image/png; name="logo.png"',
                    "Content-Id: <logo-1@example.com>",
                ],
                b64_lines(LOGO_PNG),
            ),
        ],
    )
    alternative = multipart(
        "Apple-Mail=_A1",
        [
            mime_part(
                ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"],
                "Here is the invoice, please file it." + CRLF,
            ),
            mime_part(
                ['Content-Type: multipart/related; type="text/html"; boundary="Apple-Mail=_R1"'],
                related + CRLF,
            ),
        ],
    )
    return _raw(
        message(
            sender="Dana Sender <dana@example.com>",
            subject="Fwd: Invoice 4711",
            message_id="0b599b252265491d@mail.example.com",
            content_type='multipart/alternative; boundary="Apple-Mail=_A1"',
            body=alternative,
        )
    )


def case_002_octet_stream_pdf() -> bytes:
    """A PDF and a binary blob, both application/octet-stream with name= and no disposition."""
    body = multipart(
        "--boundary_42_0d6c",
        [
            mime_part(
                ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit"],
                "Anbei Ihre Rechnung.",
            ),
            mime_part(
                [
                    "Content-Type: application/octet-stream; name=Rechnung_2024-017.pdf",
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(make_pdf(RECHNUNG_LINES)),
            ),
            mime_part(
                [
                    "Content-Type: application/octet-stream; name=blob.bin",
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(BLOB_BIN),
            ),
        ],
    )
    return _raw(
        message(
            sender="Billing <billing@example.net>",
            subject="Ihre Rechnung 2024-017",
            message_id="572fbd4325d73207@mail.example.com",
            content_type="multipart/mixed; boundary=--boundary_42_0d6c",
            body=body,
        )
    )


def _split_b_words(text: str, cut: int) -> str:
    """The UTF-8 bytes of text as two B encoded-words, cut after byte `cut` (mid-character)."""
    raw = text.encode("utf-8")
    first = base64.b64encode(raw[:cut]).decode("ascii")
    second = base64.b64encode(raw[cut:]).decode("ascii")
    return f"=?UTF-8?B?{first}?={CRLF} =?UTF-8?B?{second}?="


def case_003_rfc2047_filenames() -> bytes:
    """Encoded-words inside quoted name=/filename=, folded, split inside the UTF-8 of 'ä'."""
    pdf_name = "Rechnungsübersicht März 2024.pdf"
    cut = pdf_name.encode("utf-8").index("ä".encode()) + 1
    words = _split_b_words(pdf_name, cut)
    body = multipart(
        "b-003",
        [
            mime_part(
                ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"],
                "Zwei Dateien anbei.",
            ),
            mime_part(
                [
                    "Content-Type: application/pdf;",
                    f' name="{words}"',
                    "Content-Disposition: attachment;",
                    f' filename="{words}"',
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(make_pdf(UEBERSICHT_LINES)),
            ),
            mime_part(
                [
                    "Content-Type: text/plain; charset=iso-8859-1;",
                    ' name="=?ISO-8859-1?Q?R=E9sum=E9_2024=2Etxt?="',
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                RESUME_TEXT,
            ),
        ],
    )
    return _raw(
        message(
            sender="Dana Sender <dana@example.com>",
            subject="Uebersicht Maerz",
            message_id="6e3f8e1150257549@mail.example.com",
            content_type='multipart/mixed; boundary="b-003"',
            body=body,
        )
    )


def case_005_boundary_angle_brackets(boundary: str = "<<7f3a-20240305-b9>>") -> bytes:
    """multipart/mixed whose quoted boundary is wrapped in << >>."""
    body = multipart(
        boundary,
        [
            mime_part(["Content-Type: text/plain; charset=us-ascii"], "Room plan attached."),
            mime_part(
                [
                    'Content-Type: text/csv; name="roomplan.csv"',
                    'Content-Disposition: attachment; filename="roomplan.csv"',
                ],
                ROOMPLAN_CSV,
            ),
        ],
    )
    return _raw(
        message(
            sender="Dana Sender <dana@example.com>",
            subject="Room plan",
            message_id="f81dcee056746c3f@mail.example.com",
            content_type=f'multipart/mixed; boundary="{boundary}"',
            body=body,
        )
    )


def case_007_base64_padded_chunks(lines: Sequence[str] = STOCK_LINES) -> bytes:
    """stock.csv base64-encoded line by line, each line padded on its own."""
    encoded = CRLF.join(base64.b64encode(line.encode()).decode("ascii") for line in lines)
    body = multipart(
        "b-007",
        [
            mime_part(
                ["Content-Type: text/plain; charset=us-ascii"], "Nightly stock export attached."
            ),
            mime_part(
                [
                    'Content-Type: text/csv; name="stock.csv"',
                    'Content-Disposition: attachment; filename="stock.csv"',
                    "Content-Transfer-Encoding: base64",
                ],
                encoded,
            ),
        ],
    )
    return _raw(
        message(
            sender="Dana Sender <dana@example.com>",
            subject="Stock export",
            message_id="f44db9608d62997a@mail.example.com",
            content_type='multipart/mixed; boundary="b-007"',
            body=body,
        )
    )


def case_009_param_name_star() -> bytes:
    """A PDF whose Content-Type ends in a bare `name*` (crashes policy.default) + pallets.csv."""
    body = multipart(
        "b-009",
        [
            mime_part(
                ["Content-Type: text/plain; charset=us-ascii"], "Delivery documents attached."
            ),
            mime_part(
                [
                    "Content-Type: application/pdf; name*",
                    'Content-Disposition: attachment; filename="delivery-note-88-231.pdf"',
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(make_pdf(DELIVERY_LINES)),
            ),
            mime_part(
                [
                    'Content-Type: text/csv; name="pallets.csv"',
                    'Content-Disposition: attachment; filename="pallets.csv"',
                ],
                PALLETS_CSV,
            ),
        ],
    )
    return _raw(
        message(
            sender="Warehouse System <wms@example.net>",
            subject="Delivery note",
            message_id="c2fd3b24e63ad1fb@mail.example.com",
            content_type='multipart/mixed; boundary="b-009"',
            body=body,
        )
    )


def meeting_notes_eml() -> bytes:
    """The standalone `Meeting notes.eml` of case 010 (also attached inside it)."""
    return _raw(
        message(
            sender="Sam <sam@example.com>",
            to="team@example.com",
            subject="Meeting notes 2024-03-04",
            message_id="2df879a815260ed3@mail.example.com",
            content_type="text/plain; charset=utf-8",
            body=MEETING_NOTES_TEXT,
        )
    )


def contract_mail() -> bytes:
    """The original mail forwarded in case 010: a body and Contract_v3.pdf."""
    body = multipart(
        "b-inner",
        [
            mime_part(
                ["Content-Type: text/plain; charset=us-ascii"],
                "Dana, please sign the attached contract by Friday.",
            ),
            mime_part(
                [
                    'Content-Type: application/pdf; name="Contract_v3.pdf"',
                    'Content-Disposition: attachment; filename="Contract_v3.pdf"',
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(make_pdf(CONTRACT_LINES)),
            ),
        ],
    )
    return _raw(
        message(
            sender="Legal <legal@example.net>",
            to="dana@example.com",
            subject="Contract v3 for signature",
            message_id="ba390bad74f1f222@mail.example.com",
            content_type='multipart/mixed; boundary="b-inner"',
            body=body,
        )
    )


def case_010_forwarded_rfc822() -> bytes:
    """Outer text + message/rfc822 (no disposition, no name) + an .eml as octet-stream."""
    body = multipart(
        "b-outer",
        [
            mime_part(
                ["Content-Type: text/plain; charset=us-ascii"],
                "Forwarding the original mail with the contract, plus last week's notes.",
            ),
            mime_part(["Content-Type: message/rfc822"], contract_mail().decode("ascii")),
            mime_part(
                [
                    'Content-Type: application/octet-stream; name="Meeting notes.eml"',
                    'Content-Disposition: attachment; filename="Meeting notes.eml"',
                    "Content-Transfer-Encoding: base64",
                ],
                b64_lines(meeting_notes_eml()),
            ),
        ],
    )
    return _raw(
        message(
            sender="Dana Sender <dana@example.com>",
            subject="Fwd: Contract v3 for signature",
            message_id="bc36466b283793a6@mail.example.com",
            content_type='multipart/mixed; boundary="b-outer"',
            body=body,
        )
    )


def case_011_winmail() -> bytes:
    """The winmail.dat of case 011: Q1 Budget.csv and Notes.txt, plus a TNEF body."""
    return make_tnef(
        [("Q1 Budget.csv", Q1_BUDGET_CSV), ("Notes.txt", NOTES_TXT)],
        subject="Q1 numbers",
        body="Please find the Q1 files attached.",
    )


def tnef_mail(winmail: bytes, *, body: str | None = "Please find the Q1 files attached.") -> bytes:
    """Outlook-style mail: optional plain body + application/ms-tnef winmail.dat."""
    parts = []
    if body is not None:
        parts.append(
            mime_part(
                ['Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: 7bit"],
                body + CRLF,
            )
        )
    parts.append(
        mime_part(
            [
                'Content-Type: application/ms-tnef; name="winmail.dat"',
                'Content-Disposition: attachment; filename="winmail.dat"',
                "Content-Transfer-Encoding: base64",
            ],
            b64_lines(winmail),
        )
    )
    return _raw(
        message(
            sender="Outlook User <outlook.user@example.com>",
            subject="Q1 numbers",
            message_id="293e03c4c8d5ff13@mail.example.com",
            content_type='multipart/mixed; boundary="_000_TNEF011_"',
            body=multipart("_000_TNEF011_", parts),
        )
    )


def case_011_tnef_winmail() -> bytes:
    """Plain body + application/ms-tnef winmail.dat holding Q1 Budget.csv and Notes.txt."""
    return tnef_mail(case_011_winmail())
