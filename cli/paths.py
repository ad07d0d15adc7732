"""Paths on the command line mean what they mean in the user's shell.

`python3 dev.py …` runs commands in the project folder (its `.env`, its `./.contentmind`) and
names the folder the user ran it from in CONTENTMIND_CALLER_DIR; a relative FILE argument is
read from there. Run directly, a command reads it from its own working directory, as usual.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

CALLER_DIR = "CONTENTMIND_CALLER_DIR"  # set by dev.py


def caller_path(path: Path) -> Path:
    """`path` as the user meant it: relative to the caller's folder when dev.py names one."""
    return Path(os.environ.get(CALLER_DIR, ""), path)  # an absolute path stays as it is


def readable_files(paths: list[Path], *, param_hint: str) -> list[Path]:
    """The files the user named, each checked to be a readable file (else a usage error)."""
    found = [caller_path(path) for path in paths]
    for path in found:
        problem = (
            "does not exist" if not path.exists()
            else "is a directory" if path.is_dir()
            else "is not readable" if not os.access(path, os.R_OK)
            else None
        )  # fmt: skip
        if problem:
            raise typer.BadParameter(f"file '{path}' {problem}.", param_hint=param_hint)
    return found
