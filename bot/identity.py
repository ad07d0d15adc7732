"""Slack team → Tenant, Slack user → User, linked to the email-ingest User by profile email.

Rules (see README, "Slack identity"):
- A team's tenant is the one whose `slack_team_id` is the team. On the team's first user, an
  existing email-domain tenant of that user's (company) domain is adopted and linked to the team,
  so mail and Slack items of the team are one knowledge base; otherwise a tenant is created for
  the team, claiming the user's company domain when no tenant has it yet.
- A Slack user is linked to the User with the same profile email when that User is in the team's
  tenant: one person, one history. A User with that address in another tenant (e.g. a personal
  address on a public provider) is not moved; the Slack user then gets a User of its own.
- A Slack Connect partner (a user of another team) gets a User without email in the team's
  tenant: their address never decides or joins a tenant.
- users.info is called only the first time a Slack user is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from arq.connections import ArqRedis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keys import IDENTITY_LOCK_S, identity_lock
from models import Tenant, User
from services.errors import TransientError
from services.identity import PUBLIC_MAIL_DOMAINS, normalize_address, tenant_key
from services.runtime import Runtime
from services.schedule import is_known_zone

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SlackProfile:
    email: str | None
    display_name: str | None
    timezone: str | None
    team_name: str | None
    external: bool = False  # a Slack Connect partner: never linked or used to pick a tenant


async def resolve_slack_user(
    rt: Runtime, client: AsyncWebClient, *, team_id: str, user_id: str
) -> tuple[Tenant, User]:
    """The tenant and user behind a Slack team and user, created or linked on first sight."""
    known = await _known(rt, team_id, user_id)
    if known is not None:
        return known
    redis: ArqRedis = rt.require_redis()
    async with redis.lock(identity_lock(team_id, user_id), timeout=IDENTITY_LOCK_S):
        known = await _known(rt, team_id, user_id)  # another request may have just created it
        if known is not None:
            return known
        profile = await fetch_profile(client, team_id, user_id)
        async with rt.sessions() as session:
            for _ in range(2):  # a concurrent first event of the same team may win an insert
                try:
                    return await _link_or_create(session, team_id, user_id, profile)
                except IntegrityError:
                    await session.rollback()
            return await _link_or_create(session, team_id, user_id, profile)


async def _known(rt: Runtime, team_id: str, user_id: str) -> tuple[Tenant, User] | None:
    async with rt.sessions() as session:
        row = (
            await session.exec(
                select(Tenant, User)
                .join(User, User.tenant_id == Tenant.id)  # type: ignore[arg-type]
                .where(Tenant.slack_team_id == team_id, User.slack_user_id == user_id)
            )
        ).first()
    return (row[0], row[1]) if row else None


class SlackProfileUnavailable(TransientError):
    reason = "slack_profile_unavailable"
    default_message = "Slack did not say who shared this (users.info failed); trying again later."


# users.info answers that will not change by asking again: go on without the profile.
_PROFILE_WITHHELD = frozenset({"user_not_found", "user_not_visible", "missing_scope",
                               "no_permission", "not_allowed_token_type"})  # fmt: skip


async def fetch_profile(client: AsyncWebClient, team_id: str, user_id: str) -> SlackProfile:
    """users.info (email needs users:read.email).

    A profile Slack withholds for good (no scope, user not visible) is empty; any other failure
    (rate limit, Slack's own error) raises SlackProfileUnavailable, so nothing is created from a
    missing profile — the identity decides the user's tenant for good.
    """
    user: dict[str, Any] = {}
    try:
        response = await client.users_info(user=user_id)
        user = response.get("user") or {}
    except SlackApiError as error:
        code = str(error.response.get("error") or "")
        log.warning("slack_users_info_failed", error=code)
        if code not in _PROFILE_WITHHELD:
            raise SlackProfileUnavailable(f"users.info failed: {code or 'unknown error'}") from None
    profile = user.get("profile") or {}
    home_team = user.get("team_id")
    external = bool(home_team) and home_team != team_id
    email = None if external else normalize_address(str(profile.get("email") or ""))
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
    return SlackProfile(
        email=email,
        display_name=str(name)[:200] if name else None,
        timezone=str(user["tz"]) if is_known_zone(str(user.get("tz") or "")) else None,
        team_name=await _team_name(client, team_id),
        external=external,
    )


async def _team_name(client: AsyncWebClient, team_id: str) -> str | None:
    try:
        response = await client.auth_test()
    except SlackApiError:
        return None
    if response.get("team_id") != team_id:
        return None
    return str(response.get("team") or "")[:200] or None


async def _link_or_create(
    session: AsyncSession, team_id: str, slack_user_id: str, profile: SlackProfile
) -> tuple[Tenant, User]:
    email_user = None
    if profile.email:
        email_user = (await session.exec(select(User).where(User.email == profile.email))).first()
    tenant = (await session.exec(select(Tenant).where(Tenant.slack_team_id == team_id))).first()
    if tenant is None:
        tenant = await _team_tenant(session, team_id, profile)
    user = (
        await session.exec(
            select(User).where(User.tenant_id == tenant.id, User.slack_user_id == slack_user_id)
        )
    ).first()
    if user is None:
        user = _link_user(email_user, tenant, slack_user_id, profile)
        session.add(user)
    await session.commit()
    return tenant, user


def _company_domain(email: str | None) -> str | None:
    if not email:
        return None
    domain = email.rpartition("@")[2]
    return None if domain in PUBLIC_MAIL_DOMAINS else tenant_key(email)


async def _team_tenant(session: AsyncSession, team_id: str, profile: SlackProfile) -> Tenant:
    """Adopt the user's company-domain tenant if it has no team yet; else a new team tenant."""
    domain = _company_domain(profile.email)
    existing = None
    if domain:
        existing = (await session.exec(select(Tenant).where(Tenant.email_domain == domain))).first()
    if existing is not None and existing.slack_team_id is None:
        existing.slack_team_id = team_id
        session.add(existing)
        log.info("slack_team_linked_to_domain", team_id=team_id, tenant_id=existing.id)
        return existing
    tenant = Tenant(
        name=profile.team_name or domain or f"Slack {team_id}",
        slack_team_id=team_id,
        email_domain=domain if existing is None else None,
    )
    session.add(tenant)
    await session.flush()
    return tenant


def _link_user(
    email_user: User | None, tenant: Tenant, slack_user_id: str, profile: SlackProfile
) -> User:
    if email_user is not None and email_user.tenant_id == tenant.id:
        if email_user.slack_user_id in (None, slack_user_id):
            email_user.slack_user_id = slack_user_id
            email_user.display_name = email_user.display_name or profile.display_name
            if email_user.timezone == "UTC" and profile.timezone:  # email gave no zone: Slack's
                email_user.timezone = profile.timezone
            return email_user
    if email_user is not None:
        log.info("slack_user_not_linked", reason="email_user_in_other_tenant_or_linked")
    return User(
        tenant_id=tenant.id,
        email=profile.email if email_user is None else None,
        display_name=profile.display_name,
        slack_user_id=slack_user_id,
        timezone=profile.timezone or "UTC",
        digest_channel="slack",  # someone first seen in Slack reads their digest there
    )
