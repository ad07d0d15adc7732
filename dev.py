#!/usr/bin/env python3
"""Bootstrap and run ContentMind from a checkout with nothing but Python 3.11+.

    python3 dev.py demo        # the whole main job on embedded defaults, then exit
    python3 dev.py test        # the whole test suite
    python3 dev.py <command>   # any `contentmind` command, e.g. `up`, `search`, `stats`

The first run creates .venv and installs the project with its dev extras; later runs reinstall
only when pyproject.toml changed.
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


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
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


def main(args: list[str]) -> None:
    ensure_environment()
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if args[:1] == ["test"]:
        command = [str(BIN / "python"), "-m", "pytest", *args[1:]]
    else:
        command = [str(BIN / "contentmind"), *(args or ["--help"])]
    os.chdir(ROOT)
    sys.stdout.flush()
    os.execv(command[0], command)  # the command takes over this process: Ctrl-C goes to it alone


if __name__ == "__main__":
    main(sys.argv[1:])
