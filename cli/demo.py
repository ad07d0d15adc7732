"""`contentmind demo`: the whole main job on real parts, in a temporary data dir, on free ports."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import socket
import tempfile
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from sqlmodel import col, select

from cli.running import files_of_message, wait_until_final, worker_running
from mail.smtp import start_smtp_server
from models import FileRecord, FileStatus, InboundMessage, KnowledgeItem
from services.local_redis import LocalRedis
from services.runtime import Runtime
from services.settings import Settings
from services.stats import Scope, usage_stats

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SENDER = "demo@example.com"
console = Console()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_email(to: str) -> EmailMessage:
    """A real email: a PDF, a DOCX and a forwarded message that holds an XLSX."""
    message = EmailMessage()
    message["From"] = f"Demo User <{SENDER}>"
    message["To"] = to
    message["Subject"] = "Q3 report, onboarding guide and the budget draft"
    message.set_content("Forwarding this week's documents for the knowledge base.")
    message.add_attachment(
        (EXAMPLES / "q3-operating-report.pdf").read_bytes(),
        maintype="application", subtype="pdf", filename="q3-operating-report.pdf",
    )  # fmt: skip
    message.add_attachment(
        (EXAMPLES / "onboarding-guide.docx").read_bytes(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="onboarding-guide.docx",
    )
    forwarded = (EXAMPLES / "fwd-budget-2027.eml").read_bytes()
    message.add_attachment(forwarded, maintype="message", subtype="rfc822")
    return message


def run_demo(timeout_s: float) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="contentmind-demo-"))
    try:
        settings = Settings(
            data_dir=data_dir, smtp_port=_free_port(), database_url=None, redis_url=None,
            relay_host=None, llm_base_url=None,
        )  # fmt: skip
        with LocalRedis(data_dir) as local:
            return asyncio.run(_demo(settings, local.url, timeout_s))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _demo(settings: Settings, redis_url: str, timeout_s: float) -> int:
    rt = await Runtime.open(settings, redis_url=redis_url)
    server = await start_smtp_server(rt)
    try:
        async with worker_running(settings, redis_url):
            to = settings.ingest_addresses[0]
            console.print(
                f"Sending a real email to [bold]{to}[/] over SMTP port {settings.smtp_port}…"
            )
            await asyncio.to_thread(_send, settings.smtp_port, demo_email(to))
            message_id = await _wait_for_message(rt)
            records = await wait_until_final(
                rt, files_of_message(message_id), expected=None, timeout_s=timeout_s
            )
        return await _show(rt, records)
    finally:
        server.close()
        await server.wait_closed()
        await rt.close()


def _send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.send_message(message)


async def _wait_for_message(rt: Runtime) -> str:
    for _ in range(300):
        async with rt.sessions() as session:
            message = (
                await session.exec(
                    select(InboundMessage).where(InboundMessage.status != "received")
                )
            ).first()
        if message is not None:
            return message.id
        await asyncio.sleep(0.1)
    raise RuntimeError("the email was not parsed in time")


async def _show(rt: Runtime, records: list[FileRecord]) -> int:
    async with rt.sessions() as session:
        ids = [r.knowledge_id for r in records if r.knowledge_id]
        items = (
            await session.exec(select(KnowledgeItem).where(col(KnowledgeItem.id).in_(ids)))
        ).all()
        for item in items:
            points = "\n".join(f"  • {p}" for p in item.key_points)
            body = f"[italic]{item.original_filename}[/] ({item.provenance or 'attachment'})\n\n"
            body += (
                f"{item.summary}\n\nKey points:\n{points}\n\nKeywords: {', '.join(item.keywords)}"
            )
            console.print(Panel(body, title=item.title))
        await rt.analytics.flush()
        stats = await usage_stats(
            session, Scope(tenant_id=records[0].tenant_id) if records else Scope()
        )
    console.print(
        f"Files processed: {stats.files_processed}  failed: {stats.files_failed}  "
        f"tokens: {stats.total_tokens}  storage: {stats.storage_used_mb} MB"
    )
    for record in records:
        if record.status != FileStatus.COMPLETED:
            console.print(
                f"[red]{record.original_filename}: {record.reason_message or record.status}[/]"
            )
    ok = len(records) >= 3 and all(r.status == FileStatus.COMPLETED for r in records)
    console.print(
        "[green]Demo finished: every file is knowledge.[/]" if ok else "[red]Demo failed.[/]"
    )
    return 0 if ok else 1
