"""What the CLI logs on the console: one-shot commands only warnings and errors, services INFO."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
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


def test_a_worker_stopped_with_ctrl_c_says_sigint(tmp_path: Path, redis_url: str) -> None:
    """`contentmind worker` interrupted by SIGINT (Ctrl-C) logs worker_stopped with reason
    SIGINT, and no "shutdown on SIGUSR1" (arq's words for its close(), no signal of ours)."""
    env = clean_environment(
        CONTENTMIND_DATA_DIR=str(tmp_path / "data"), REDIS_URL=redis_url,
        CONTENTMIND_QUEUE_NAME=f"test:{uuid.uuid4().hex[:8]}",
        CONTENTMIND_ANALYSIS_PROCESSES="1", CONTENTMIND_LOG_FORMAT="json",
    )  # fmt: skip
    worker = subprocess.Popen([CONTENTMIND, "worker"], env=env, cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 40
        while not any("redis_version=" in line for line in lines):  # started: arq is polling
            assert time.monotonic() < deadline and worker.poll() is None, "".join(lines)[-3000:]
            time.sleep(0.2)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=30) == 0, "".join(lines)[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    reader.join(timeout=5)
    records = _log_lines("".join(lines))
    [stopped] = [r for r in records if r["event"] == "worker_stopped"]
    assert (stopped["reason"], stopped["jobs_complete"], stopped["jobs_cancelled"]) == (
        "SIGINT", 0, 0,
    )  # fmt: skip
    assert not any("SIGUSR1" in str(r["event"]) for r in records)
