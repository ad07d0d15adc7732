#!/usr/bin/env python3
"""Bootstrap and run ContentMind from a checkout with nothing but Python 3.11+.

    python3 dev.py demo        # the whole main job on embedded defaults, then exit
    python3 dev.py test        # the whole test suite
    python3 dev.py <command>   # any `contentmind` command, e.g. `up`, `search`, `stats`

The first run creates .venv and installs the project with its dev extras; later runs reinstall
only when pyproject.toml changed.

Commands run in the project folder, wherever they are started: they read the project's `.env`,
and the data dir defaults to the project's `./.contentmind`. Paths the user gives stay relative to
the folder they ran this from: a relative CONTENTMIND_DATA_DIR or CONTENTMIND_TEMPLATES_DIR is
made absolute here, and FILE arguments are resolved by the command, which CONTENTMIND_CALLER_DIR
tells where that was. (Test paths given to `test` are relative to the project folder.)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CONTENTMIND_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".contentmind-install"
CALLER_DIR = "CONTENTMIND_CALLER_DIR"  # read by the CLI (cli/paths.py)
PATH_VARIABLES = ("CONTENTMIND_DATA_DIR", "CONTENTMIND_TEMPLATES_DIR")


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on the system Python, which may be older
        sys.exit(f"ContentMind needs Python 3.11 or newer (this is {sys.version.split()[0]}).")
    if not (BIN / "python").exists():
        print(f"Creating a virtual environment in {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print(
        "Installing ContentMind and its dependencies (first run takes a few minutes) …", flush=True
    )
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def launch(
    args: list[str], caller: Path, environ: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The command line for `args` and its environment, for a start in the project folder from
    the folder `caller`."""
    env = {**environ}
    env.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if args[:1] == ["test"]:
        return [str(BIN / "python"), "-m", "pytest", *args[1:]], env
    env[CALLER_DIR] = str(caller)
    for name in PATH_VARIABLES:
        value = env.get(name)
        if value and not Path(value).is_absolute():
            env[name] = str(caller / value)
    return [str(BIN / "contentmind"), *(args or ["--help"])], env


def main(args: list[str]) -> None:
    ensure_environment()
    command, env = launch(args, Path.cwd(), dict(os.environ))
    os.chdir(ROOT)
    sys.stdout.flush()
    os.execve(command[0], command, env)  # the command takes over this process: Ctrl-C goes to it


if __name__ == "__main__":
    main(sys.argv[1:])
