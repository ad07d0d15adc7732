"""Settings derived from others when not given."""

from __future__ import annotations

import pytest

from services.settings import Settings


def test_links_follow_the_api_port_unless_a_public_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTENTMIND_API_PORT", "38080")
    assert Settings(_env_file=None).public_base_url == "http://127.0.0.1:38080"  # type: ignore[call-arg]
    monkeypatch.setenv("CONTENTMIND_API_HOST", "0.0.0.0")
    assert Settings(_env_file=None).public_base_url == "http://127.0.0.1:38080"  # type: ignore[call-arg]
    monkeypatch.setenv("CONTENTMIND_PUBLIC_BASE_URL", "https://cm.example.org")
    assert Settings(_env_file=None).public_base_url == "https://cm.example.org"  # type: ignore[call-arg]
