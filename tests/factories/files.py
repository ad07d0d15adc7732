"""Real files built with their real libraries, returned as bytes, for tests and the demo.

Every builder is deterministic enough to reuse (same input, same text) and small. Formats:
PDF (reportlab; encrypted variants with pypdf), scanned PDF/JPEG (Pillow), DOCX (python-docx),
PPTX (python-pptx), XLSX (openpyxl), HTML, EML (stdlib email) and MSG (extract-msg's writer).
"""

from __future__ import annotations

import email.utils
import io
import mimetypes
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

import docx
import openpyxl
import pptx
import pypdf
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

SCAN_DPI = 300
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
)
_FIXED_DATE = datetime(2024, 3, 14, 9, 30, tzinfo=UTC)


class Slide(NamedTuple):
    """One slide for make_pptx: a title, body text (lines split on newlines), speaker notes."""

    title: str
    body: str = ""
    notes: str = ""


# --- PDF -----------------------------------------------------------------------------------


def make_pdf(text_lines: Sequence[str], title: str | None = None) -> bytes:
    """A text PDF (A4, Helvetica 12 pt) with one line per item, flowing onto new pages."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    if title is not None:
        pdf.setTitle(title)
    top, bottom, step = A4[1] - 72, 72, 16
    y = top
    for line in text_lines:
        if y < bottom:
            pdf.showPage()
            y = top
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, y, line)
        y -= step
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_pdf_permissions_only_encrypted(text_lines: Sequence[str]) -> bytes:
    """A PDF encrypted (AES-128) with an empty user password: anyone may open it, not edit it."""
    return _encrypt(make_pdf(text_lines), user_password="", owner_password="owner-only-secret")


def make_pdf_password_required(text_lines: Sequence[str], password: str) -> bytes:
    """A PDF encrypted (AES-128) that cannot be opened without ``password``."""
    return _encrypt(make_pdf(text_lines), user_password=password, owner_password=password)


def _encrypt(data: bytes, *, user_password: str, owner_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(
        user_password=user_password,
        owner_password=owner_password,
        permissions_flag=pypdf.constants.UserAccessPermissions.PRINT,
        algorithm="AES-128",
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_truncated_pdf(text_lines: Sequence[str] = ("This upload was cut off halfway.",)) -> bytes:
    """The first half of a valid PDF, as left by an interrupted upload."""
    data = make_pdf(text_lines)
    return data[: len(data) // 2]


def make_scanned_pdf(text_lines: Sequence[str]) -> bytes:
    """An image-only PDF (a scan at 300 dpi): the text is pixels, there is no text layer."""
    image = render_text_image(text_lines)
    width, height = (size * 72 / SCAN_DPI for size in image.size)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=True)
    pdf.drawImage(ImageReader(image), 0, 0, width=width, height=height)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_scanned_jpeg(text_lines: Sequence[str]) -> bytes:
    """A photo-like JPEG (300 dpi, high quality) of black text on white."""
    buffer = io.BytesIO()
    render_text_image(text_lines).save(buffer, "JPEG", quality=95, dpi=(SCAN_DPI, SCAN_DPI))
    return buffer.getvalue()


def render_text_image(text_lines: Sequence[str], font_px: int = 64) -> Image.Image:
    """Black text on a white grayscale page, large and clean enough for tesseract to read."""
    font = _font(font_px)
    margin, line_height = font_px * 2, int(font_px * 1.8)
    widths = [int(font.getlength(line)) for line in text_lines] or [0]
    width = max(max(widths) + 2 * margin, 1200)
    height = 2 * margin + line_height * max(len(text_lines), 1)
    image = Image.new("L", (width, height), color=255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(text_lines):
        draw.text((margin, margin + index * line_height), line, fill=0, font=font)
    return image


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (or another TrueType sans) if installed, else Pillow's built-in font."""
    for path in (*_FONT_CANDIDATES, _fc_match("DejaVu Sans")):
        if path and Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _fc_match(family: str) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(
        ["fc-match", "--format=%{file}", family], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or None


# --- Office --------------------------------------------------------------------------------


def make_docx(
    paragraphs: Sequence[str],
    title: str | None = None,
    *,
    heading: str | None = None,
    tables: Sequence[Sequence[Sequence[str]]] = (),
) -> bytes:
    """A DOCX: optional Heading 1, the paragraphs, then each table (rows of cell texts)."""
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    if heading is not None:
        document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    for rows in tables:
        _add_table(document, rows)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _add_table(document: Any, rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=max(len(row) for row in rows))
    for row_cells, values in zip(table.rows, rows, strict=False):
        for cell, value in zip(row_cells.cells, values, strict=False):
            cell.text = value


def make_zip_bomb_docx(inflated_mib: int = 150, *, lie_about_size: bool = False) -> bytes:
    """A valid DOCX whose word/document.xml inflates to ``inflated_mib`` MiB of repeated text.

    Deflate keeps the file around a thousandth of that. With ``lie_about_size`` the zip
    directories declare a tiny size for that part, as a hostile file would, so only counting
    the bytes actually inflated reveals it.
    """
    base = make_docx(["Quarterly report"])
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename == "word/document.xml":
                _write_huge_document(target, inflated_mib)
            else:
                target.writestr(info, source.read(info))
    data = buffer.getvalue()
    return _declare_size(data, "word/document.xml", 4096) if lie_about_size else data


_DOCUMENT_OPEN = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body>"
)
_DOCUMENT_CLOSE = "<w:sectPr/></w:body></w:document>"


def _write_huge_document(target: zipfile.ZipFile, inflated_mib: int) -> None:
    paragraph = "<w:p><w:r><w:t>" + "All work and no play. " * 40 + "</w:t></w:r></w:p>"
    chunk = (paragraph * (1024 * 1024 // len(paragraph) + 1)).encode()[: 1024 * 1024]
    chunk = chunk[: chunk.rfind(b"</w:p>") + len(b"</w:p>")]
    with target.open("word/document.xml", "w") as member:
        member.write(_DOCUMENT_OPEN.encode())
        written = 0
        while written < inflated_mib * 1024 * 1024:
            member.write(chunk)
            written += len(chunk)
        member.write(_DOCUMENT_CLOSE.encode())


def _declare_size(data: bytes, member: str, declared: int) -> bytes:
    """Overwrite a member's uncompressed size in its local header and central directory entry."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        struct.pack_into("<I", patched, archive.getinfo(member).header_offset + 22, declared)
    end = data.rfind(b"PK\x05\x06")
    entries, _, offset = struct.unpack_from("<HII", data, end + 10)
    for _ in range(entries):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, offset + 28)
        if data[offset + 46 : offset + 46 + name_length] == member.encode():
            struct.pack_into("<I", patched, offset + 24, declared)
        offset += 46 + name_length + extra_length + comment_length
    return bytes(patched)


def make_pptx(slides: Iterable[Slide | tuple[str, ...]], title: str | None = None) -> bytes:
    """A PPTX with one 'Title and Content' slide per item, with speaker notes when given."""
    presentation = pptx.Presentation()
    if title is not None:
        presentation.core_properties.title = title
    layout = presentation.slide_layouts[1]
    for spec in slides:
        slide_spec = Slide(*spec)
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = slide_spec.title
        slide.placeholders[1].text_frame.text = slide_spec.body
        if slide_spec.notes:
            slide.notes_slide.notes_text_frame.text = slide_spec.notes
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def make_xlsx(sheets: dict[str, list[list[Any]]], title: str | None = None) -> bytes:
    """An XLSX with one worksheet per entry (sheet name → rows of cell values)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(title=name)
        for row in rows:
            sheet.append(row)
    if title is not None:
        workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- Web and mail --------------------------------------------------------------------------


def make_html(title: str, body_text: str) -> bytes:
    """A UTF-8 HTML page with a <title>, an <h1>, the body as a paragraph per line, and the
    <style> and analytics <script> real pages carry (their text must not be extracted)."""
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in body_text.splitlines())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body { font-family: sans-serif; }</style>"
        "<script>window.analytics = 'tracking-snippet';</script>"
        f"</head><body><h1>{escape(title)}</h1>{paragraphs}</body></html>\n"
    ).encode()


def make_eml(
    subject: str,
    sender: str,
    body: str,
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    to: str = "team@example.com",
) -> bytes:
    """An RFC 5322 message (CRLF line ends, as sent over SMTP) with a plain-text body and the
    given (filename, content) attachments, their MIME types guessed from the names."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(_FIXED_DATE)
    message["Message-ID"] = email.utils.make_msgid(domain="example.com")
    message.set_content(body)
    for filename, content in attachments:
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def make_msg(subject: str, sender: str, body: str) -> bytes:
    """A minimal Outlook .msg (OLE compound file, IPM.Note) with subject, sender name and body."""
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    writer.addEntry("__properties_version1.0", bytes(32))
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    for tag, value in (
        ("001A001F", "IPM.Note"),
        ("0037001F", subject),
        ("0C1A001F", sender),
        ("1000001F", body),
    ):
        writer.addEntry(f"__substg1.0_{tag}", value.encode("utf-16-le"))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_password_docx(paragraphs: Sequence[str], password: str) -> bytes:
    """A DOCX protected with a password to open (Office 'Encrypt with Password': an OLE
    container holding the encrypted package), made with msoffcrypto-tool."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(make_docx(paragraphs))).encrypt(password, out)
    return out.getvalue()


def make_ole(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file with the given root streams (e.g. 'WordDocument' mimics a .doc)."""
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    for name, content in streams.items():
        writer.addEntry(name, content)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_png_header(width: int, height: int) -> bytes:
    """A PNG signature and header chunk declaring ``width`` x ``height`` pixels, with no image
    data: enough for a decoder to read the size and refuse it before decoding anything."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
