"""The IMAP real-world cases: 015 (BYE during IDLE, then a close or a hang; dropped connections)
and 016 (FETCH items after the literal), through the real poller and worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlmodel import select

from mail.imap import BODY_ITEMS, ImapIngest
from mail.imap_client import ImapConnection
from mail.imap_response import by_uid, read_headers
from mail.imap_state import FolderKey, save_folder_state
from models import InboundMessage
from services.runtime import Runtime
from services.settings import ImapAccount, ImapSecurity
from tests.e2e.conftest import Pipeline
from tests.factories.emails import build_email
from tests.factories.files import make_pdf
from tests.imap.conftest import (
    FAST,
    Mailbox,
    folder_states,
    ingest_running,
    processed,
    wait_passes,
    wait_until,
)
from tests.imap.dovecot import Dovecot
from tests.imap.proxy import DroppingProxy
from tests.imap.scripted import ScriptedImapServer, scripted_server

DATA = Path(__file__).parent / "data"
SENDER = "alice@acme.example"


def report_mail(number: int) -> bytes:
    pdf = make_pdf([f"Report {number}", f"Figures for week {number} are final."])
    return build_email(
        SENDER,
        "ingest@example.org",
        f"Report {number}",
        "Attached.",
        [(f"report-{number}.pdf", "application/pdf", pdf)],
    )


def scripted_account(server: ScriptedImapServer, **overrides: object) -> ImapAccount:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": ImapSecurity.PLAIN,
        "username": "ingest@example.org",
        "password": "fake-password",
        **FAST,
    }
    values.update(overrides)
    return ImapAccount.model_validate(values)


async def reasons(pipeline: Pipeline, event_type: str) -> list[str]:
    return [e.event_metadata["reason"] for e in await pipeline.events(event_type)]


# --- 015: the server answers IDLE with BYE and closes (or hangs) ----------------------------


def case_015_server() -> ScriptedImapServer:
    """As in the case's script: 3 messages, UIDNEXT 104; after the reconnect UID 104 is new."""
    server = ScriptedImapServer(
        uidvalidity=1700000000, messages={uid: report_mail(uid) for uid in (101, 102, 103)}
    )
    server.on_connect = lambda number: (
        server.add_message(104, report_mail(104)) if number == 2 else None
    )
    return server


@pytest.mark.parametrize("after_bye", ["bye_close", "bye_hang"])
async def test_case_015_bye_during_idle_is_recovered(
    imap_pipeline: Pipeline, after_bye: str
) -> None:
    """Case 015: BYE on IDLE (close/hang) → IMAP_DISCONNECTED bye; UID 104 received once."""
    rt = imap_pipeline.rt
    server = case_015_server()
    server.idle_script = [after_bye]
    async with scripted_server(server):
        account = scripted_account(server)
        await save_folder_state(  # the poller had read up to UID 103 before
            rt, FolderKey(account.label, "INBOX"), uidvalidity=1700000000, last_uid=103
        )
        started = time.monotonic()
        async with ingest_running(rt, [account]) as ingest:
            status = ingest.statuses[0]
            await wait_until(lambda: status.connects >= 2, timeout=30, what="reconnect")
            noticed_in = time.monotonic() - started
            await imap_pipeline.wait_done(messages=1)
            await wait_until(lambda: status.idling, what="idling again")

    assert noticed_in < 5.0, f"BYE noticed after {noticed_in:.1f} s"
    assert await reasons(imap_pipeline, "IMAP_DISCONNECTED") == ["bye"]
    assert server.connections == 2
    assert dict(server.body_fetches) == {104: 1}
    assert server.commands.count("UID SEARCH UID 104:*") == 2
    assert server.commands.count('SELECT "INBOX"') == 2
    assert "\\Seen" in server.flags[104]
    assert [(r.uid, r.status) for r in await processed(rt)] == [(104, "ok")]
    assert [s.last_uid for s in await folder_states(rt)] == [104]
    assert [f.original_filename for f in await imap_pipeline.files()] == ["report-104.pdf"]


async def test_case_015_silent_server_times_out_and_stop_stays_prompt(rt: Runtime) -> None:
    """Case 015: an IDLE never answered times out (reason timeout); stop stays prompt."""
    server = case_015_server()
    server.idle_script = ["silent"] * 50
    async with scripted_server(server):
        await save_folder_state(
            rt, FolderKey("ingest@example.org@127.0.0.1", "INBOX"), uidvalidity=1700000000,
            last_uid=103,
        )  # fmt: skip
        account = scripted_account(server, timeout_s=0.5)
        async with ingest_running(rt, [account]) as ingest:
            status = ingest.statuses[0]
            await wait_until(lambda: status.connects >= 2, what="reconnect after the timeout")
            await wait_until(lambda: server.commands.count("IDLE") >= 2, what="IDLE hanging")
            started = time.monotonic()
        stopped_in = time.monotonic() - started

    assert stopped_in < 1.5, f"stop took {stopped_in:.1f} s"
    assert (await reasons(Pipeline(rt), "IMAP_DISCONNECTED"))[0] == "timeout"
    assert dict(server.body_fetches) == {104: 1}


@pytest.mark.parametrize("drop", ["bye", "reset"])
async def test_case_015_dropped_dovecot_connection_is_recovered(
    imap_pipeline: Pipeline, mailbox: Mailbox, drop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Case 015 via a proxy: BYE+close or a reset is named, the reconnection is logged, and
    the next mail arrives once."""
    rt = imap_pipeline.rt
    proxy = DroppingProxy(mailbox.server.port)
    await proxy.start()
    await mailbox.append(report_mail(1))
    account = mailbox.account(port=proxy.port, poll_interval_s=120, idle_timeout_s=120)
    try:
        async with ingest_running(rt, [account]) as ingest:
            await _drop_and_recover(
                imap_pipeline, mailbox, ingest, lambda: proxy.drop(bye=drop == "bye")
            )
    finally:
        await proxy.stop()

    assert await reasons(imap_pipeline, "IMAP_DISCONNECTED") == [drop]
    await _assert_two_received_once(imap_pipeline)
    assert "imap_reconnected" in capsys.readouterr().out


async def test_case_015_killed_dovecot_process_is_recovered(
    imap_pipeline: Pipeline, mailbox: Mailbox, dovecot: Dovecot
) -> None:
    """Case 015: the serving imap process is killed → reset; the next mail arrives once."""
    await mailbox.append(report_mail(1))
    account = mailbox.account(poll_interval_s=120, idle_timeout_s=120)

    async def kill() -> int:
        pids = dovecot.imap_pids(mailbox.username)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return len(pids)

    async with ingest_running(imap_pipeline.rt, [account]) as ingest:
        await _drop_and_recover(imap_pipeline, mailbox, ingest, kill)

    assert await reasons(imap_pipeline, "IMAP_DISCONNECTED") == ["reset"]
    await _assert_two_received_once(imap_pipeline)


async def _drop_and_recover(
    pipeline: Pipeline, mailbox: Mailbox, ingest: ImapIngest, drop: object
) -> None:
    status = ingest.statuses[0]
    await pipeline.wait_done(messages=1)
    await wait_until(lambda: status.idling, what="idling")
    assert await drop() == 1  # type: ignore[operator]
    await wait_until(lambda: status.connects == 2 and status.idling, what="reconnected")
    await mailbox.append(report_mail(2))
    await pipeline.wait_done(messages=2)


async def _assert_two_received_once(pipeline: Pipeline) -> None:
    assert [(r.uid, r.status) for r in await processed(pipeline.rt)] == [(1, "ok"), (2, "ok")]
    assert len(await pipeline.messages()) == 2
    assert len(await pipeline.events("EMAIL_RECEIVED")) == 2
    assert await pipeline.events("EMAIL_DUPLICATE") == []
    assert sorted(i.original_filename for i in await pipeline.items()) == [
        "report-1.pdf",
        "report-2.pdf",
    ]


# --- 016: FETCH items in any order, the literal first ---------------------------------------

MESSAGE_1771 = (DATA / "case_016_message_1771.eml").read_bytes()
MESSAGE_1772 = (DATA / "case_016_message_1772.eml").read_bytes()
BODY_COMMAND = f"UID FETCH 1771:1772 {BODY_ITEMS}"
SUBJECT_COMMAND = "UID FETCH 1772 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"


def case_016_server() -> ScriptedImapServer:
    """The two messages; whole-message and subject FETCHes answered with the recorded bytes."""
    recorded = (DATA / "case_016_server_responses.raw").read_bytes()
    bodies, _, rest = recorded.partition(b"A001 OK FETCH completed\r\n")
    subject, _, _ = rest.partition(b"A002 OK FETCH completed\r\n")
    server = ScriptedImapServer(
        uidvalidity=1709625300, messages={1771: MESSAGE_1771, 1772: MESSAGE_1772}
    )
    server.replays = {BODY_COMMAND: bodies, SUBJECT_COMMAND: subject}
    return server


async def test_case_016_fetch_data_is_matched_by_uid_not_position() -> None:
    """Case 016: UID after the literal names the right exact body; the subject literal reads."""
    async with scripted_server(case_016_server()) as server:
        conn = await ImapConnection.open(scripted_account(server))
        try:
            await conn.select("INBOX")
            bodies = by_uid(await conn.fetch([1771, 1772], BODY_ITEMS, whole_messages=True))
            subject = await conn.fetch([1772], "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        finally:
            await conn.close()

    assert server.replayed == {BODY_COMMAND: 1, SUBJECT_COMMAND: 1}
    assert {uid: len(m.body() or b"") for uid, m in bodies.items()} == {1771: 256, 1772: 242}
    assert bodies[1771].body() == MESSAGE_1771 and bodies[1772].body() == MESSAGE_1772
    assert bodies[1772].flags == ("\\Seen",)
    assert [m.uid for m in subject] == [1772]
    assert read_headers(subject[0].header_block()).subject == 'Budget "final" version'


async def test_case_016_both_messages_are_ingested_once(imap_pipeline: Pipeline) -> None:
    """Case 016 via the poller: both replayed mails stored with their bytes, once; last UID 1772."""
    rt = imap_pipeline.rt
    server = case_016_server()
    async with scripted_server(server):
        async with ingest_running(rt, [scripted_account(server, idle_timeout_s=0.2)]) as ingest:
            await imap_pipeline.wait_done(messages=2)
            await wait_passes(ingest, 3)

    assert server.replayed[BODY_COMMAND] == 1
    assert dict(server.body_fetches) == {1771: 1, 1772: 1}
    rows = await processed(rt)
    assert [(r.uid, r.message_id, r.status) for r in rows] == [
        (1771, "e7e24594fcdaae98@mail.example.com", "ok"),
        (1772, "b46ac98a675a3564@mail.example.com", "ok"),
    ]
    async with rt.sessions() as session:
        messages = {m.message_id: m for m in (await session.exec(select(InboundMessage))).all()}
    stored = {mid: rt.storage.get(m.raw_key) for mid, m in messages.items()}
    assert stored == {
        "e7e24594fcdaae98@mail.example.com": MESSAGE_1771,
        "b46ac98a675a3564@mail.example.com": MESSAGE_1772,
    }
    assert {m.channel for m in messages.values()} == {"imap"}
    assert messages["b46ac98a675a3564@mail.example.com"].subject == 'Budget "final" version'
    assert [s.last_uid for s in await folder_states(rt)] == [1772]
