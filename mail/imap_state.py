"""What the IMAP poller remembers: messages handled (by folder, UIDVALIDITY and UID) and the last
UID handled per folder. Both survive restarts; a message recorded here is never handled again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from models import ImapFolderState, ImapMessageStatus, ImapProcessedMessage
from models.base import utcnow
from services.runtime import Runtime


@dataclass(frozen=True)
class FolderKey:
    account: str
    folder: str


async def folder_state(rt: Runtime, key: FolderKey) -> ImapFolderState | None:
    async with rt.sessions() as session:
        statement = select(ImapFolderState).where(
            ImapFolderState.account == key.account, ImapFolderState.folder == key.folder
        )
        return (await session.exec(statement)).first()


async def save_folder_state(
    rt: Runtime, key: FolderKey, *, uidvalidity: int, last_uid: int
) -> None:
    """Record where the folder stands (within one UIDVALIDITY the last UID only grows)."""
    for _ in range(2):  # a second poller on the same account may insert the row first
        async with rt.sessions() as session:
            statement = select(ImapFolderState).where(
                ImapFolderState.account == key.account, ImapFolderState.folder == key.folder
            )
            state = (await session.exec(statement)).first()
            if state is None:
                state = ImapFolderState(account=key.account, folder=key.folder, uidvalidity=0)
            elif state.uidvalidity == uidvalidity:
                last_uid = max(last_uid, state.last_uid)
            state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, last_uid, utcnow()
            session.add(state)
            try:
                await session.commit()
                return
            except IntegrityError:
                await session.rollback()


async def handled_uids(
    rt: Runtime, key: FolderKey, uidvalidity: int, uids: Sequence[int]
) -> dict[int, ImapProcessedMessage]:
    """The records of those UIDs that were handled already."""
    if not uids:
        return {}
    async with rt.sessions() as session:
        statement = select(ImapProcessedMessage).where(
            ImapProcessedMessage.account == key.account,
            ImapProcessedMessage.folder == key.folder,
            ImapProcessedMessage.uidvalidity == uidvalidity,
            col(ImapProcessedMessage.uid).in_(list(uids)),
        )
        return {row.uid: row for row in (await session.exec(statement)).all()}


async def handled_messages(
    rt: Runtime, key: FolderKey, message_ids: Sequence[str]
) -> dict[str, ImapProcessedMessage]:
    """Message-ID → its first successful record in the folder, under any UIDVALIDITY.

    Quarantined records do not count: a message moved back from the error folder is tried again.
    """
    if not message_ids:
        return {}
    async with rt.sessions() as session:
        statement = (
            select(ImapProcessedMessage)
            .where(
                ImapProcessedMessage.account == key.account,
                ImapProcessedMessage.folder == key.folder,
                ImapProcessedMessage.status == ImapMessageStatus.OK,
                col(ImapProcessedMessage.message_id).in_(list(set(message_ids))),
            )
            .order_by(col(ImapProcessedMessage.created_at).desc())
        )
        rows = (await session.exec(statement)).all()
    return {row.message_id: row for row in rows if row.message_id}  # the oldest wins


async def record_handled(
    rt: Runtime,
    key: FolderKey,
    *,
    uidvalidity: int,
    uid: int,
    message_id: str | None,
    status: ImapMessageStatus,
    reason: str | None = None,
    inbound_message_id: str | None = None,
) -> ImapProcessedMessage:
    """Record one message as handled; an existing record of the same UID is returned as is."""
    row = ImapProcessedMessage(
        account=key.account,
        folder=key.folder,
        uidvalidity=uidvalidity,
        uid=uid,
        message_id=message_id,
        status=status,
        reason=reason,
        inbound_message_id=inbound_message_id,
    )
    async with rt.sessions() as session:
        session.add(row)
        try:
            await session.commit()
            return row
        except IntegrityError:
            await session.rollback()
    existing = await handled_uids(rt, key, uidvalidity, [uid])
    return existing[uid]
