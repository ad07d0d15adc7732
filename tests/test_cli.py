"""The `contentmind` command as an operator runs it: separate processes, the documented JSON.

Each command is its own process on the test's Redis and database: SQLite in the data dir (the
default when DATABASE_URL is unset) or the test's PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from models import KnowledgeItem
from models.base import new_id
from services.identity import resolve_email_sender
from services.knowledge import add_item
from services.runtime import Runtime
from services.storage import sha256_hex
from tests.e2e.processes import CONTENTMIND, clean_environment
from tests.factories.files import make_pdf

ALICE = "alice@acme.example"
BOB = "bob@globex.example"  # another domain: another tenant
FILE_KEYS = {
    "id", "filename", "source", "status", "reason", "reason_message", "knowledge_id",
    "correlation_id", "declared_type", "detected_type", "size", "provenance", "created_at",
}  # fmt: skip
HIT_KEYS = {"id", "title", "summary", "snippet", "filename", "source", "rank", "created_at"}
STATS_KEYS = {
    "days", "files_processed", "files_failed", "digests_generated", "digests_sent",
    "total_tokens", "storage_used_mb", "per_day",
}  # fmt: skip
DAY_KEYS = {
    "date", "files_processed", "files_failed", "digests_generated", "digests_sent", "tokens",
}  # fmt: skip
EVENT_KEYS = {
    "id", "event_type", "user_id", "tenant_id", "correlation_id", "metadata", "created_at",
}  # fmt: skip

Cli = Callable[..., Any]


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str, redis_url: str) -> dict[str, str]:
    """A clean environment: the test's Redis; SQLite in the data dir, or the test's PostgreSQL."""
    env = clean_environment(
        CONTENTMIND_DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=redis_url,
        CONTENTMIND_QUEUE_NAME=f"test:{uuid.uuid4().hex[:8]}",
        CONTENTMIND_ANALYSIS_PROCESSES="1",
        CONTENTMIND_LOG_FORMAT="json",
    )
    if not db_url.startswith("sqlite"):
        env["DATABASE_URL"] = db_url
    return env


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """Run `contentmind ARGS --json` as its own process; returns the parsed stdout."""

    def run(*args: str) -> Any:
        done = subprocess.run(
            [CONTENTMIND, *args, "--json"],
            env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
        return json.loads(done.stdout)

    return run


@pytest.fixture
def cli_table(cli_env: dict[str, str], tmp_path: Path) -> Callable[..., str]:
    """Run `contentmind ARGS` (its table) as its own process at 80 columns; returns stdout."""

    def run(*args: str) -> str:
        done = subprocess.run(
            [CONTENTMIND, *args], env={**cli_env, "COLUMNS": "80"}, cwd=tmp_path,
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
        return done.stdout

    return run


def _all(cli: Cli, *commands: tuple[str, ...]) -> list[Any]:
    """Run read-only commands at the same time (each is a process of its own)."""
    with ThreadPoolExecutor(len(commands)) as threads:
        return list(threads.map(lambda args: cli(*args), commands))


def _pdf(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_bytes(make_pdf(lines))
    return path


def test_ingest_without_processing_prints_the_queued_records(cli: Cli, tmp_path: Path) -> None:
    """--no-process --json: the records as queued (pending), for a script to follow up."""
    pdf = _pdf(tmp_path, "queued.pdf", ["Queue log", "The Ostrava barge is queued for Tuesday."])
    [queued] = cli("ingest", str(pdf), "--user", ALICE, "--no-process")
    assert set(queued) == FILE_KEYS
    assert (queued["filename"], queued["status"], queued["knowledge_id"]) == (
        "queued.pdf", "pending", None,
    )  # fmt: skip
    [listed] = cli("files", "--user", ALICE)
    assert listed["id"] == queued["id"]


def test_ingest_reads_a_relative_file_from_the_callers_folder(
    cli: Cli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Run by dev.py (in the project folder, CONTENTMIND_CALLER_DIR naming the user's folder), a
    relative FILE is the one in the user's folder."""
    caller = tmp_path / "caller"
    caller.mkdir()
    pdf = _pdf(caller, "notes.pdf", ["Notes", "The Ostrava barge is queued for Tuesday."])
    cli_env["CONTENTMIND_CALLER_DIR"] = str(caller)  # the command itself runs in tmp_path
    [queued] = cli("ingest", "notes.pdf", "--user", ALICE, "--no-process")
    assert (queued["filename"], queued["size"]) == ("notes.pdf", pdf.stat().st_size)


def test_ingest_then_files_search_stats_and_events(cli: Cli, tmp_path: Path) -> None:
    """ingest → completed with a knowledge id; files, search, stats, events show the same file."""
    pdf = _pdf(tmp_path, "pilot.pdf", ["Harbour pilot log", "The Wrenfield pilot boarded at dawn."])
    [ingested] = cli("ingest", str(pdf), "--user", ALICE)
    assert set(ingested) == FILE_KEYS
    assert ingested["status"] == "completed" and ingested["reason"] is None
    assert ingested["knowledge_id"] and ingested["correlation_id"]
    assert (ingested["filename"], ingested["source"]) == ("pilot.pdf", "cli")
    assert ingested["detected_type"] == "application/pdf"
    assert ingested["size"] == pdf.stat().st_size

    files, hits, stats, events, by_file_id = _all(
        cli,
        ("files", "--user", ALICE),
        ("search", "wrenfield", "--user", ALICE),
        ("stats", "--user", ALICE),
        ("events", "--correlation-id", ingested["correlation_id"]),
        ("events", "--correlation-id", ingested["id"]),  # the id `files` shows works too
    )
    assert files == [ingested]
    assert by_file_id == events

    [hit] = hits
    assert set(hit) == HIT_KEYS
    assert hit["id"] == ingested["knowledge_id"]
    assert (hit["filename"], hit["source"]) == ("pilot.pdf", "cli")
    assert "Wrenfield" in hit["snippet"] and hit["title"] and hit["summary"]
    assert hit["created_at"].endswith("+00:00")  # with its offset on SQLite too

    assert set(stats) == STATS_KEYS
    assert (stats["days"], stats["files_processed"], stats["files_failed"]) == (7, 1, 0)
    assert stats["total_tokens"] > 0 and stats["storage_used_mb"] > 0
    [day] = stats["per_day"]
    assert set(day) == DAY_KEYS
    assert (day["files_processed"], day["tokens"]) == (1, stats["total_tokens"])

    assert all(set(e) == EVENT_KEYS for e in events)
    assert {e["correlation_id"] for e in events} == {ingested["correlation_id"]}
    chain = [e["event_type"] for e in events if e["event_type"] != "JOB_DEDUPED"]
    assert chain == ["FILE_UPLOAD_INITIATED", "FILE_RECEIVED", "AGENT_STARTED", "FILE_PROCESSED"]
    processed = events[-1]
    assert processed["metadata"]["knowledge_id"] == ingested["knowledge_id"]
    assert processed["metadata"]["tokens_used"] == stats["total_tokens"]


def test_tables_show_every_id_whole_at_80_columns(
    cli: Cli, cli_table: Callable[..., str], tmp_path: Path
) -> None:
    """files, search and events tables keep each id on one line of its own, whole, to be copied
    into the next command; search shows the knowledge item's id."""
    pdf = _pdf(tmp_path, "harbour-pilot-log-for-the-second-quarter-of-2027.pdf",
               ["Harbour pilot log", "The Wrenfield pilot boarded at dawn."])  # fmt: skip
    [ingested] = cli("ingest", str(pdf), "--user", ALICE)
    files = cli_table("files", "--user", ALICE)
    hits = cli_table("search", "wrenfield", "--user", ALICE)
    events = cli_table("events", "--correlation-id", ingested["id"])
    for output, ids in (
        (files, [ingested["id"], ingested["knowledge_id"]]),
        (hits, [ingested["knowledge_id"]]),
        (events, [ingested["correlation_id"]]),
    ):
        assert all(len(line) <= 80 for line in output.splitlines()), output
        cells = {cell.strip() for line in output.splitlines() for cell in line.split("│")}
        assert set(ids) <= cells, output


def test_files_table_says_why_a_file_failed(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A failed file's row gives the sentence the sender was told, not only the reason code."""
    broken = tmp_path / "cut-off.pdf"
    broken.write_bytes(make_pdf(["Harbour log", "The Wrenfield pilot boarded."])[:400])
    ingested = subprocess.run(
        [CONTENTMIND, "ingest", str(broken), "--user", ALICE],
        env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert ingested.returncode == 1, ingested.stderr[-4000:]
    listed = subprocess.run(
        [CONTENTMIND, "files", "--user", ALICE], env={**cli_env, "COLUMNS": "200"},
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-4000:]
    [row] = [line for line in listed.stdout.splitlines() if "cut-off.pdf" in line]
    assert "failed" in row
    assert "The PDF is damaged or incomplete" in listed.stdout


def test_item_takes_a_file_id_and_unknown_ids_exit_2(
    cli: Cli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`item` given the id `files` lists first shows the item made from that file, or says why
    there is none; `events` for an id with no events says so and exits 2 (not an empty table)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONTENTMIND, *args], env=cli_env, cwd=tmp_path, capture_output=True, text=True,
            timeout=90,
        )  # fmt: skip

    pdf = _pdf(tmp_path, "pilot.pdf", ["Harbour pilot log", "The Wrenfield pilot boarded."])
    [good] = cli("ingest", str(pdf), "--user", ALICE)
    assert cli("item", good["id"]) == cli("item", good["knowledge_id"])
    assert cli("item", good["id"])["title"] == "Harbour pilot log"

    broken = tmp_path / "cut-off.pdf"
    broken.write_bytes(make_pdf(["Quay log", "The Embermoor quay was closed."])[:400])
    ingested = run("ingest", str(broken), "--user", ALICE, "--json")
    assert ingested.returncode == 1, ingested.stderr[-4000:]
    [failed] = json.loads(ingested.stdout)
    shown = run("item", failed["id"])
    assert shown.returncode == 2
    assert shown.stderr.startswith(
        f"cut-off.pdf ({failed['id']}) is a file with no knowledge item: it failed: "
        "The PDF is damaged or incomplete"
    ), shown.stderr

    unknown = run("events", "--correlation-id", "no-such-id")
    assert unknown.returncode == 2
    assert "No events with the correlation id no-such-id in " in unknown.stderr
    assert unknown.stdout == ""


async def _item(rt: Runtime, sender: str, filename: str, text: str) -> KnowledgeItem:
    """A knowledge item of the sender's tenant, stored as the worker stores one."""
    async with rt.sessions() as session:
        tenant, user = await resolve_email_sender(session, rt.settings, sender)
        item = KnowledgeItem(
            tenant_id=tenant.id, user_id=user.id, file_id=new_id(),
            sha256=sha256_hex(text.encode()), title=filename, summary=text, full_text=text,
            keywords=["quay"], source="email", original_filename=filename,
        )  # fmt: skip
        await add_item(session, item)
        await session.commit()
        return item


async def test_search_never_crosses_tenants(cli: Cli, cli_env: dict[str, str], rt: Runtime) -> None:
    """Two tenants with the same word: each user's search finds only their own tenant's item."""
    cli_env["DATABASE_URL"] = rt.settings.effective_database_url  # where the items are
    text = "The Wrenfield quay was inspected on Tuesday."
    acme = await _item(rt, ALICE, "acme.txt", text)
    globex = await _item(rt, BOB, "globex.txt", text + " Globex owns it.")

    alice_hits, bob_hits, bob_own = await asyncio.to_thread(
        _all,
        cli,
        ("search", "wrenfield", "--user", ALICE),
        ("search", "wrenfield", "--user", BOB),
        ("search", "globex", "--user", BOB),
    )
    assert [h["id"] for h in alice_hits] == [acme.id]
    assert [h["id"] for h in bob_hits] == [globex.id]
    assert [h["filename"] for h in bob_own] == ["globex.txt"]
