"""Outgoing mail keeps long headers literal and always carries a Date."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from services.mailer import send_email
from services.settings import Settings

LINK = "<https://contentmind.example/unsubscribe?token=" + "A1b2C3d4" * 16 + ">"


async def test_outbox_file_keeps_list_unsubscribe_literal_and_adds_date(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    message = EmailMessage()
    message["From"] = "ContentMind <contentmind@ingest.localhost>"
    message["To"] = "dana@acme.example"
    message["Subject"] = "Your digest"
    message["List-Unsubscribe"] = LINK
    message.set_content("hello")
    path = Path(await send_email(settings, message))
    raw = path.read_bytes()
    headers = raw.split(b"\n\n")[0] + b"\n"
    assert f"List-Unsubscribe: {LINK}\n".encode() in headers
    assert b"=?utf-8?" not in headers
    assert b"\nDate: " in headers and b" +0000\n" in headers and b"\nMessage-ID: <" in headers
