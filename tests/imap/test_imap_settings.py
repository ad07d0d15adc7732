"""IMAP accounts in the settings: JSON from the environment, validated actions, no secrets shown."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.settings import ImapAccount, ImapSecurity, Settings


def test_accounts_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """CONTENTMIND_IMAP_ACCOUNTS holds a JSON list; defaults fill the rest; the password hides."""
    accounts = [
        {"host": "imap.example.com", "username": "ingest@example.com", "password": "s3cret"},
        {
            "name": "finance",
            "host": "mail.example.org",
            "security": "starttls",
            "username": "files",
            "password": "hunter2",
            "folder": "Forwarded",
            "after_success": "move:Archive/ContentMind",
            "on_error": "keyword:ContentMindError",
            "idle_timeout_s": 120,
        },
    ]
    monkeypatch.setenv("CONTENTMIND_IMAP_ACCOUNTS", json.dumps(accounts))
    first, second = Settings().imap_accounts

    assert (first.label, first.effective_port, first.security) == (
        "ingest@example.com@imap.example.com", 993, ImapSecurity.TLS,
    )  # fmt: skip
    assert (first.folder, first.after_success, first.on_error) == (
        "INBOX", "seen", "move:ContentMind/Errors",
    )  # fmt: skip
    assert (first.idle_timeout_s, first.auth_retry_s) == (300.0, 600.0)
    assert (second.label, second.effective_port, second.folder) == ("finance", 143, "Forwarded")
    assert second.after_success == "move:Archive/ContentMind"
    assert second.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(second) and "s3cret" not in repr(Settings().imap_accounts)


def test_no_accounts_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable there is nothing to watch."""
    monkeypatch.delenv("CONTENTMIND_IMAP_ACCOUNTS", raising=False)
    assert Settings().imap_accounts == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("after_success", "delete"),
        ("after_success", "seen:now"),
        ("after_success", "keyword:two words"),
        ("after_success", "move:"),
        ("on_error", "seen"),
        ("security", "ssl3"),
        ("pasword", "typo"),
    ],
)
def test_bad_account_settings_are_refused(field: str, value: str) -> None:
    """Unknown actions, bad keywords, an empty target or an unknown key fail at start-up."""
    values = {"host": "h.example", "username": "u", "password": "p", field: value}
    with pytest.raises(ValidationError):
        ImapAccount.model_validate(values)
