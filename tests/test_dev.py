"""dev.py, the bootstrap: commands run in the project folder, the user's paths stay theirs."""

from __future__ import annotations

from pathlib import Path

import dev


def test_a_command_gets_the_callers_folder_and_its_relative_data_dir_made_absolute(
    tmp_path: Path,
) -> None:
    """Started from another folder: CONTENTMIND_CALLER_DIR names it, and a relative
    CONTENTMIND_DATA_DIR or CONTENTMIND_TEMPLATES_DIR is taken from it."""
    environ = {"CONTENTMIND_DATA_DIR": "data", "CONTENTMIND_TEMPLATES_DIR": "mine/templates",
               "PATH": "/usr/bin"}  # fmt: skip
    command, env = dev.launch(["ingest", "notes.txt", "--user", "a@b.example"], tmp_path, environ)
    assert command == [str(dev.BIN / "contentmind"), "ingest", "notes.txt", "--user", "a@b.example"]
    assert env["CONTENTMIND_CALLER_DIR"] == str(tmp_path)
    assert env["CONTENTMIND_DATA_DIR"] == str(tmp_path / "data")
    assert env["CONTENTMIND_TEMPLATES_DIR"] == str(tmp_path / "mine" / "templates")
    assert env["PATH"] == "/usr/bin"
    assert environ["CONTENTMIND_DATA_DIR"] == "data"  # the caller's mapping is not changed


def test_absolute_and_unset_paths_are_left_alone(tmp_path: Path) -> None:
    """An absolute data dir is kept; with none set the command's default (the project's
    ./.contentmind, as it runs in the project folder) applies."""
    _, env = dev.launch(["files"], tmp_path, {"CONTENTMIND_DATA_DIR": "/srv/contentmind"})
    assert env["CONTENTMIND_DATA_DIR"] == "/srv/contentmind"
    _, env = dev.launch(["files"], tmp_path, {})
    assert "CONTENTMIND_DATA_DIR" not in env and "CONTENTMIND_TEMPLATES_DIR" not in env


def test_tests_run_with_pytest_and_no_caller_folder(tmp_path: Path) -> None:
    """`dev.py test ARGS` is pytest in the project folder; no path is rewritten."""
    command, env = dev.launch(["test", "-q", "tests/test_dev.py"], tmp_path, {})
    assert command == [str(dev.BIN / "python"), "-m", "pytest", "-q", "tests/test_dev.py"]
    assert "CONTENTMIND_CALLER_DIR" not in env
    assert env["ORT_DISABLE_TELEMETRY"] == "1"
