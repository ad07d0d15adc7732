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


def test_whole_columns_keep_their_ids_on_one_line_and_the_others_give_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 80 columns two 32-character ids stacked in one cell stay whole; a long filename folds
    but keeps every character."""
    recorder = Console(record=True, width=80)
    monkeypatch.setattr(cli.output, "console", recorder)
    file_id, item_id = "0123456789abcdef" * 2, "fedcba9876543210" * 2
    name = "a-rather-long-name-for-the-harbour-pilot-log-of-the-second-quarter.pdf"
    cli.output.table(
        "Files",
        ["filename", "source", "status", "id / knowledge_id"],
        [[name, "email", cli.output.stacked("completed", None),
          cli.output.stacked(file_id, item_id)]],
        whole={"id / knowledge_id"},
    )  # fmt: skip
    lines = recorder.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert [row[3] for row in cells][:2] == [file_id, item_id]
    assert "".join(row[0] for row in cells) == name
    assert cells[0][2] == "completed" and cells[1][2] == ""  # no reason: no second line
