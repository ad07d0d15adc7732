"""Times shown to people carry their zone, in the reader's zone, whatever the stored form."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks import when
from services.digest_render import _when


def test_times_name_their_zone_and_naive_ones_are_utc() -> None:
    winter = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert when(winter, "Europe/Berlin") == "Tue 5 Mar 2024, 09:00 CET"
    assert when(winter) == "Tue 5 Mar 2024, 08:00 UTC"
    assert when(winter.replace(tzinfo=None), "Europe/Berlin") == "Tue 5 Mar 2024, 09:00 CET"
    summer = datetime(2024, 7, 5, 8, 0)
    assert _when(summer, "Europe/Berlin") == "Fri 5 Jul, 10:00 CEST"
    assert _when(summer, "America/New_York") == "Fri 5 Jul, 04:00 EDT"
