"""Running `contentmind` commands as real separate processes, and watching their process trees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import psutil
from pydantic import SecretStr

from services.settings import Settings

CONTENTMIND = str(Path(sys.executable).with_name("contentmind"))
_OWN_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any ContentMind setting, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CONTENTMIND_") and key not in _OWN_VARIABLES
    }
    env.update(extra)
    return env


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that make a new process read the same `settings`."""
    values: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        values[alias or f"CONTENTMIND_{name.upper()}"] = str(value)
    return clean_environment(**values)


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a zombie has exited; only its parent has not reaped it)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def wait_gone(processes: Iterable[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until none of `processes` runs; returns those still running at the deadline."""
    left = list(processes)
    deadline = time.monotonic() + timeout_s
    while True:
        left = [p for p in left if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""


def kill_all(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL each process that still runs, by its own pid (cleanup after a failed check)."""
    for process in processes:
        if alive(process):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


class CommandProcess:
    """One `contentmind …` process in its own session, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self.proc = subprocess.Popen(
            [CONTENTMIND, *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen: dict[int, psutil.Process] = {}
        self.names: dict[int, str] = {}  # pid → program name, as first seen

    @property
    def pid(self) -> int:
        return self.proc.pid

    def watch(self) -> list[psutil.Process]:
        """Remember every descendant seen so far (call while it runs); returns the live ones."""
        current = descendants(self.pid)
        for process in current:
            if process.pid not in self.seen:
                self.seen[process.pid] = process
                self.names[process.pid] = _name(process)
        return current

    def kill(self) -> None:
        """SIGKILL the main process only, as the OOM killer would; its children are on their own."""
        self.watch()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        self.watch()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def cleanup(self) -> None:
        """After the test: nothing of this process may survive, whatever happened."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        kill_all(self.seen.values())
        self._log.close()

    def output(self, last: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-last:]
