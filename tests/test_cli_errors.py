"""Start-up problems get plain words, not tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cli.queries import database_in_use
from services.db import migrate
from services.settings import Settings
from tests.e2e.processes import clean_environment
from workers.replies import FileOutcome, tally


def _contentmind() -> str:
    return str(Path(sys.executable).with_name("contentmind"))


def test_smtp_port_in_use_is_explained(tmp_path: Path, redis_url: str) -> None:
    """A taken SMTP port ends with exit 1 and a hint about CONTENTMIND_SMTP_PORT."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "CONTENTMIND_DATA_DIR": str(tmp_path),
            "REDIS_URL": redis_url,
            "CONTENTMIND_SMTP_PORT": str(port),
        }
        done = subprocess.run(
            [_contentmind(), "smtp"], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert "already in use" in done.stderr and "CONTENTMIND_SMTP_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_invalid_settings_are_named_in_plain_words_without_their_values(tmp_path: Path) -> None:
    """A typo in CONTENTMIND_IMAP_ACCOUNTS (which holds passwords) or a bad port: exit 2, one
    line per problem named by its variable, no traceback, and the password never printed."""
    secret = "Hunter2-TopSecret"
    broken_json = (
        '[{"host": "127.0.0.1", "security": "plain", "username": "files", '
        f'"password": "{secret}"}},]'
    )
    bad_fields = (
        f'[{{"host": "h", "username": "files", "password": "{secret}", '
        '"after_sucess": "seen", "tls_ca_file": "/nonexistent/ca.pem"}]'
    )
    outputs = []
    for accounts, port in ((broken_json, "2525"), (bad_fields, "abc")):
        env = {**os.environ, "CONTENTMIND_DATA_DIR": str(tmp_path),
               "CONTENTMIND_IMAP_ACCOUNTS": accounts, "CONTENTMIND_SMTP_PORT": port}  # fmt: skip
        done = subprocess.run(
            [_contentmind(), "files"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2
        assert secret not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        outputs.append(done.stderr)
    assert "CONTENTMIND_IMAP_ACCOUNTS: Value error, not valid JSON" in outputs[0]
    assert "CONTENTMIND_SMTP_PORT: Input should be a valid integer" in outputs[1]
    assert "CONTENTMIND_IMAP_ACCOUNTS.0.after_sucess: Extra inputs are not permitted" in outputs[1]
    assert "CONTENTMIND_IMAP_ACCOUNTS.0.tls_ca_file: Value error, no such file" in outputs[1]


def test_a_data_dir_without_a_database_is_reported_not_created(tmp_path: Path) -> None:
    """Run in another folder (no ./.contentmind there): exit 2, the message names the database
    looked for and points at CONTENTMIND_DATA_DIR; no empty database is left behind."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [_contentmind(), "files", "--user", "alice@acme.example"], env=clean_environment(),
        cwd=elsewhere, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    data_dir = elsewhere.resolve() / ".contentmind"
    first, hint = done.stderr.splitlines()
    assert first == (
        "Nothing has been received yet: there is no database in "
        f"{data_dir / 'contentmind.db'} (data dir {data_dir})."
    )
    assert "CONTENTMIND_DATA_DIR" in hint and "DATABASE_URL" in hint
    assert not (data_dir / "contentmind.db").exists()


def test_an_unknown_user_is_reported_with_the_database_looked_in(tmp_path: Path) -> None:
    """A data dir with data, but not this sender's: exit 2, the database named."""
    data_dir = tmp_path / "data"
    migrate(f"sqlite+aiosqlite:///{data_dir / 'contentmind.db'}")
    env = {**clean_environment(), "CONTENTMIND_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [_contentmind(), "files", "--user", "alice@acme.example"], env=env,
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    first, _hint = done.stderr.splitlines()
    assert first == (
        f"No user with the address alice@acme.example in {data_dir.resolve() / 'contentmind.db'} "
        f"(data dir {data_dir.resolve()})."
    )


def test_the_database_in_use_is_named_without_its_password(tmp_path: Path) -> None:
    """DATABASE_URL is shown as given, minus the password; without it, the data dir's SQLite."""
    url = "postgresql://app:Hunter2@db.example:5432/cm?sslmode=require"
    shown = database_in_use(Settings(data_dir=tmp_path, database_url=url))
    assert shown == "postgresql://app@db.example:5432/cm?sslmode=require (DATABASE_URL)"
    data_dir = tmp_path.resolve() / "data"
    shown = database_in_use(Settings(data_dir=data_dir, database_url=None))
    assert shown == f"{data_dir / 'contentmind.db'} (data dir {data_dir})"


def _outcome(ok: bool, reason: str | None = None) -> FileOutcome:
    return FileOutcome("f", "x", ok, None, None, reason, None)


def test_reply_tally_counts_known_files_apart() -> None:
    """Files already known are not counted as added."""
    outcomes = [_outcome(True), _outcome(True, "duplicate"), _outcome(False, "empty_file")]
    assert tally(outcomes) == "1 added, 1 already known, 1 not added"
    assert tally([_outcome(True, "duplicate")]) == "1 already known"
    assert tally([]) == "nothing to add"
