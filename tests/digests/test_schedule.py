"""Who is due when: each user's local hour, DST change days, weekdays only, catch-up, new users."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.digests import schedule_due
from services.runtime import Runtime
from services.schedule import DigestPreferences, due_slot, slot_on
from tests.digests.conftest import Factory, RuntimeFactory, digests
from workers.digests import digest_cron

TICK = timedelta(minutes=5)
HOURS = timedelta(hours=12)


async def run_cron(rt: Runtime, start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """The cron function every 5 minutes from start to end (time injected); claims per user."""
    claims: dict[str, list[datetime]] = {}
    now = start
    while now < end:
        for digest in await schedule_due(rt, now=now):
            claims.setdefault(digest.user_id, []).append(now)
        now += TICK
    return claims


def test_slot_follows_the_utc_offset_of_that_day() -> None:
    """08:00 Berlin is 07:00 UTC in winter and 06:00 UTC in summer, across both DST changes."""
    berlin = DigestPreferences("Europe/Berlin", 8)
    assert slot_on(date(2024, 3, 30), berlin) == datetime(2024, 3, 30, 7, 0, tzinfo=UTC)
    assert slot_on(date(2024, 3, 31), berlin) == datetime(2024, 3, 31, 6, 0, tzinfo=UTC)
    assert slot_on(date(2024, 10, 26), berlin) == datetime(2024, 10, 26, 6, 0, tzinfo=UTC)
    assert slot_on(date(2024, 10, 27), berlin) == datetime(2024, 10, 27, 7, 0, tzinfo=UTC)
    skipped = DigestPreferences("Europe/Berlin", 2, 30)  # 02:30 does not exist on 31 March
    assert slot_on(date(2024, 3, 31), skipped) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_due_slot_window_weekdays_and_not_before() -> None:
    """Due from the slot for catch_up hours; never on weekends if asked; never before creation."""
    prefs = DigestPreferences("America/New_York", 8, 30)
    at = datetime(2024, 3, 5, 13, 30, tzinfo=UTC)  # 08:30 EST
    assert due_slot(at - timedelta(seconds=1), prefs, catch_up=HOURS) is None
    assert due_slot(at, prefs, catch_up=HOURS).local_date == date(2024, 3, 5)  # type: ignore[union-attr]
    assert due_slot(at + HOURS, prefs, catch_up=HOURS) is None
    saturday = datetime(2024, 3, 9, 14, 0, tzinfo=UTC)
    weekdays = DigestPreferences("America/New_York", 8, 30, weekdays_only=True)
    assert due_slot(saturday, prefs, catch_up=HOURS) is not None
    assert due_slot(saturday, weekdays, catch_up=HOURS) is None
    assert due_slot(at + timedelta(hours=1), prefs, catch_up=HOURS, not_before=at + TICK) is None


def test_late_evening_slot_is_due_after_midnight_for_the_day_before() -> None:
    """A 23:00 slot caught up at 01:00 belongs to the previous local date."""
    prefs = DigestPreferences("Asia/Tokyo", 23)
    after_midnight = datetime(2024, 3, 5, 16, 0, tzinfo=UTC)  # 01:00 JST on 6 March
    slot = due_slot(after_midnight, prefs, catch_up=HOURS)
    assert slot is not None and slot.local_date == date(2024, 3, 5)


async def test_three_time_zones_each_at_their_local_hour(runtime_with: RuntimeFactory) -> None:
    """Tokyo, Berlin and New York users at 08:00 local are claimed at 08:00 local, once each."""
    rt = await runtime_with(digest_catch_up_hours=1)  # the first tick catches up nothing
    factory = Factory(rt)
    tokyo = await factory.user("kenji@tokyo.example", timezone="Asia/Tokyo")
    berlin = await factory.user("dana@acme.example", timezone="Europe/Berlin")
    new_york = await factory.user("sam@ny.example", timezone="America/New_York", minute=30)
    weekend_off = await factory.user("wes@ny.example", timezone="America/New_York",
                                     weekdays_only=True)  # fmt: skip

    # Thursday 7 March 2024 18:00 UTC to Saturday 9 March 18:00 UTC
    claims = await run_cron(
        rt, datetime(2024, 3, 7, 18, tzinfo=UTC), datetime(2024, 3, 9, 18, tzinfo=UTC)
    )

    assert claims[tokyo.id] == [datetime(2024, 3, 7, 23, 0, tzinfo=UTC),
                                datetime(2024, 3, 8, 23, 0, tzinfo=UTC)]  # fmt: skip
    assert claims[berlin.id] == [datetime(2024, 3, 8, 7, 0, tzinfo=UTC),
                                 datetime(2024, 3, 9, 7, 0, tzinfo=UTC)]  # fmt: skip
    assert claims[new_york.id] == [datetime(2024, 3, 8, 13, 30, tzinfo=UTC),
                                   datetime(2024, 3, 9, 13, 30, tzinfo=UTC)]  # fmt: skip
    assert claims[weekend_off.id] == [datetime(2024, 3, 8, 13, 0, tzinfo=UTC)]  # not Saturday
    rows = {(d.user_id, d.local_date.isoformat()) for d in await digests(rt)}
    assert (tokyo.id, "2024-03-08") in rows and (tokyo.id, "2024-03-09") in rows
    assert len(rows) == 7


async def test_dst_change_days_keep_the_local_hour_once(rt: Runtime, factory: Factory) -> None:
    """Berlin at 08:00 around both 2024 DST changes: 07:00 → 06:00 UTC in March, back in October."""
    dana = await factory.user("dana@acme.example", timezone="Europe/Berlin")
    night_owl = await factory.user("otto@acme.example", timezone="Europe/Berlin", hour=2, minute=30)

    spring = await run_cron(
        rt, datetime(2024, 3, 29, 22, tzinfo=UTC), datetime(2024, 4, 1, 12, tzinfo=UTC)
    )
    autumn = await run_cron(
        rt, datetime(2024, 10, 25, 22, tzinfo=UTC), datetime(2024, 10, 28, 12, tzinfo=UTC)
    )

    at = [datetime(2024, 3, 30, 7), datetime(2024, 3, 31, 6), datetime(2024, 4, 1, 6)]
    assert spring[dana.id] == [moment.replace(tzinfo=UTC) for moment in at]  # 07:00 → 06:00 UTC
    at = [datetime(2024, 10, 26, 6), datetime(2024, 10, 27, 7), datetime(2024, 10, 28, 7)]
    assert autumn[dana.id] == [moment.replace(tzinfo=UTC) for moment in at]  # 06:00 → 07:00 UTC
    # 02:30 is skipped on 31 March (sent at 03:30 CEST) and happens twice on 27 October (once)
    assert spring[night_owl.id][1] == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert autumn[night_owl.id][1] == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    dates = sorted(d.local_date.isoformat() for d in await digests(rt) if d.user_id == dana.id)
    assert dates == ["2024-03-30", "2024-03-31", "2024-04-01",
                     "2024-10-26", "2024-10-27", "2024-10-28"]  # fmt: skip


async def test_catch_up_after_downtime_and_no_digest_for_the_slot_before_signup(
    rt: Runtime, factory: Factory
) -> None:
    """Workers down at 08:00: the 11:00 cron still claims it; a user made at 09:00 waits a day."""
    veteran = await factory.user("vera@acme.example")
    newcomer = await factory.user("nina@acme.example",
                                  created_at=datetime(2024, 3, 5, 9, tzinfo=UTC))  # fmt: skip
    eleven = datetime(2024, 3, 5, 11, 0, tzinfo=UTC)
    claimed = await digest_cron({"rt": rt, "clock": lambda: eleven})
    assert claimed == 1
    [row] = await digests(rt)
    assert (row.user_id, row.scheduled_for) == (veteran.id, datetime(2024, 3, 5, 8, tzinfo=UTC))
    assert await digest_cron({"rt": rt, "clock": lambda: eleven + TICK}) == 0
    next_day = await schedule_due(rt, now=datetime(2024, 3, 6, 8, 0, tzinfo=UTC))
    assert {d.user_id for d in next_day} == {veteran.id, newcomer.id}


async def test_disabled_users_are_never_due(rt: Runtime, factory: Factory) -> None:
    """digest_enabled off: no claim at the slot."""
    await factory.user("off@acme.example", enabled=False)
    assert await schedule_due(rt, now=datetime(2024, 3, 5, 8, 0, tzinfo=UTC)) == []


async def test_turning_digests_on_after_todays_slot_sends_none_until_the_next(
    rt: Runtime, factory: Factory
) -> None:
    """Off at 08:00, turned on at 09:00: the catch-up is for workers that were down, not for a
    slot the user had turned off — nothing at 09:05, the next digest at tomorrow's 08:00."""
    from models import User
    from services.preferences import set_digest_enabled

    olga = await factory.user("olga@acme.example", enabled=False)
    async with rt.sessions() as session:
        await set_digest_enabled(session, user_id=olga.id, enabled=True)
        user = await session.get(User, olga.id)
        assert user is not None and user.digest_changed_at is not None  # recorded by the change
        user.digest_changed_at = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # the injected clock
        session.add(user)
        await session.commit()
    assert await schedule_due(rt, now=datetime(2024, 3, 5, 9, 5, tzinfo=UTC)) == []
    [tomorrow] = await schedule_due(rt, now=datetime(2024, 3, 6, 8, 0, tzinfo=UTC))
    assert tomorrow.user_id == olga.id
