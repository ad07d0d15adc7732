"""What the CLI logs on the console: one-shot commands only warnings and errors, services INFO."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from cli.main import log_level
from services.settings import Settings
from tests.e2e.processes import CONTENTMIND, clean_environment


def _log_lines(stderr: str) -> list[dict[str, object]]:
    """The JSON log records among stderr's lines (the progress bar is not one)."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("configured", "one_shot", "verbose", "expected"),
    [
        (None, False, False, "INFO"),  # a service: the default level
        (None, True, False, "WARNING"),  # a one-shot command: quiet
        (None, True, True, "INFO"),  # … unless --verbose
        ("debug", True, False, "DEBUG"),  # CONTENTMIND_LOG_LEVEL is obeyed as given
        ("error", True, False, "ERROR"),
        ("error", True, True, "INFO"),  # the flag asks for more than the variable
        ("debug", True, True, "DEBUG"),  # and never for less
    ],
)
def test_log_level_of_services_and_one_shot_commands(
    configured: str | None, one_shot: bool, verbose: bool, expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Services log at CONTENTMIND_LOG_LEVEL; one-shot commands at WARNING unless it is set or
    --verbose is given."""
    monkeypatch.delenv("CONTENTMIND_LOG_LEVEL", raising=False)
    settings = Settings(log_level=configured) if configured else Settings()
    assert log_level(settings, one_shot=one_shot, verbose=verbose) == expected


def test_ingest_logs_nothing_on_success_and_everything_with_verbose(
    tmp_path: Path, redis_url: str
) -> None:
    """`ingest` with its in-process worker: stderr holds no log record when all goes well; with
    --verbose the worker's records are there."""
    env = clean_environment(
        CONTENTMIND_DATA_DIR=str(tmp_path / "data"), REDIS_URL=redis_url,
        CONTENTMIND_QUEUE_NAME=f"test:{uuid.uuid4().hex[:8]}",
        CONTENTMIND_ANALYSIS_PROCESSES="1", CONTENTMIND_LOG_FORMAT="json",
    )  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("Harbour log\nThe Wrenfield pilot boarded at dawn.\n")
    runs = []
    for extra in ([], ["--verbose"]):
        done = subprocess.run(
            [CONTENTMIND, "ingest", str(notes), "--user", "alice@acme.example", *extra],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(_log_lines(done.stderr))
    quiet, verbose = runs
    assert quiet == []
    events = [str(record["event"]) for record in verbose]
    assert any(event.startswith("Starting worker for 5 functions") for event in events)
