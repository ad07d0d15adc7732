"""The CLI's tables print document text literally, brackets included."""

from __future__ import annotations

import pytest
from rich.console import Console

import cli.output


def test_table_cells_are_not_read_as_rich_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snippet `[supplier]` keeps its word (rich would take it for a style tag)."""
    recorder = Console(record=True, width=200)
    monkeypatch.setattr(cli.output, "console", recorder)
    cli.output.table("Results", ["snippet"], [["a second [supplier] in [bold]Poland"]])
    assert "a second [supplier] in [bold]Poland" in recorder.export_text()
