"""`contentmind demo` as a newcomer runs it: no configuration, embedded defaults, exit 0."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import psutil

from tests.e2e.processes import CommandProcess, alive, clean_environment, wait_gone

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REDIS_NAMES = ("redis-server", "valkey-server")


def _examples() -> ModuleType:
    """examples/make_examples.py, which holds the text of the sample files the demo sends."""
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _redis_servers_under(folder: Path) -> list[psutil.Process]:
    """Redis servers anywhere on the machine whose working directory is inside `folder`."""
    found = []
    for process in psutil.process_iter(["name", "cwd"]):
        name, cwd = process.info["name"] or "", process.info["cwd"] or ""
        if name in REDIS_NAMES and cwd.startswith(str(folder)) and alive(process):
            found.append(process)
    return found


def test_demo_processes_the_examples_and_leaves_nothing_running(tmp_path: Path) -> None:
    """Exit 0; the three examples' knowledge is printed; its Redis and workers are gone after."""
    temp = tmp_path / "tmp"  # the demo's temporary data dir (and so its Redis) is made in here
    temp.mkdir()
    env = clean_environment(TMPDIR=str(temp), COLUMNS="200")
    demo = CommandProcess(["demo", "--timeout", "90"], env, tmp_path, tmp_path / "demo.log")
    try:
        deadline = time.monotonic() + 110
        while demo.proc.poll() is None and time.monotonic() < deadline:
            demo.watch()
            time.sleep(0.1)
        code = demo.stop(timeout_s=5)
    finally:
        demo.cleanup()
    output = demo.output(last=100_000)
    assert code == 0, output[-4000:]

    examples = _examples()
    assert examples.REPORT[0] in output  # the PDF's title
    assert examples.GUIDE[0] in output  # the DOCX's title
    assert "budget-2027-draft.xlsx (inside forwarded message)" in output
    assert "Warehouse automation" in output  # a row of the forwarded XLSX
    assert "Files processed: 3  failed: 0" in output
    assert "Demo finished: every file is knowledge." in output

    servers = [pid for pid, name in demo.names.items() if name in REDIS_NAMES]
    assert servers, "the demo did not start its own Redis (REDIS_URL leaked in?)"
    assert not wait_gone(demo.seen.values(), timeout_s=5), "the demo left processes running"
    assert _redis_servers_under(temp) == []
    assert list(temp.iterdir()) == []  # its temporary data dir is removed
