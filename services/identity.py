"""Who sent this? Map an email address to a tenant and a user, creating them when policy allows."""

from __future__ import annotations

from email.utils import parseaddr

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Tenant, User
from services.errors import ContentMindError
from services.settings import SenderPolicy, Settings

# Mailbox providers shared by unrelated people: their users never share a tenant.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "mail.com", "zoho.com",
        "yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "fastmail.com", "hey.com",
    }
)  # fmt: skip


class SenderRefused(ContentMindError):
    reason = "sender_not_allowed"
    default_message = "This sender is not allowed to send files to ContentMind."


def normalize_address(raw: str) -> str | None:
    """The bare lowercase address, or None when it is not a plausible address."""
    _, address = parseaddr(raw or "")
    address = address.strip().lower()
    local, sep, domain = address.rpartition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in address):
        return None
    return address


def sender_allowed(address: str, settings: Settings) -> bool:
    if settings.sender_policy is SenderPolicy.AUTO:
        return True
    domain = address.rpartition("@")[2]
    allowed = set(settings.allowed_senders)
    return address in allowed or f"@{domain}" in allowed or domain in allowed


def tenant_key(address: str) -> str:
    """The tenant an address belongs to: its domain, or the address itself on public providers."""
    domain = address.rpartition("@")[2]
    return address if domain in PUBLIC_MAIL_DOMAINS else domain


async def resolve_email_sender(
    session: AsyncSession, settings: Settings, raw_address: str
) -> tuple[Tenant, User]:
    """Find or create the tenant and user of a sender, or raise SenderRefused."""
    address = normalize_address(raw_address)
    if address is None:
        raise SenderRefused("The sender address is missing or malformed.")
    if not sender_allowed(address, settings):
        raise SenderRefused(f"{address} is not on this server's list of allowed senders.")
    for _ in range(3):  # a concurrent first mail from the same team may win the insert
        try:
            return await _find_or_create(session, address)
        except IntegrityError:
            await session.rollback()
    return await _find_or_create(session, address)


async def _find_or_create(session: AsyncSession, address: str) -> tuple[Tenant, User]:
    known = (
        await session.exec(
            select(Tenant, User).join(User, col(User.tenant_id) == col(Tenant.id))
            .where(User.email == address)
        )
    ).first()  # fmt: skip
    if known is not None:
        tenant, user = known
        return tenant, user
    key = tenant_key(address)
    tenant = (await session.exec(select(Tenant).where(Tenant.email_domain == key))).first()
    if tenant is None:
        tenant = Tenant(name=key, email_domain=key)
        session.add(tenant)
        await session.flush()
    user = User(tenant_id=tenant.id, email=address)
    session.add(user)
    await session.commit()
    return tenant, user
