"""Recognise CSV-like tabular text (CSV, TSV, ';'-separated, pipe tables) and describe it.

Sentence ranking makes no sense for rows of cells, so a table is described by its
shape, its columns, its first rows and the range of its numeric columns instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agents.keywords import dedupe_keywords
from agents.text import squash, trim

DELIMITERS = (",", ";", "\t", "|")
TABULAR_SUFFIXES = (".csv", ".tsv", ".tab")
POINT_CHARS = 200
_SAMPLE_LINES = 50
_MIN_ROWS = 3
_CONSISTENCY = 0.8
_MAX_MEAN_CELL_CHARS = 40
_SHOWN_ROWS = 5
_SHOWN_COLUMNS = 8
_NUMERIC_POINTS = 2
_MAX_POINTS = 7
_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")
_CURRENCY = re.compile(r"[€$£¥%\s]")
_NUMBER_EN = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_NUMBER_DE = re.compile(r"[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]  # data rows, header excluded
    has_header: bool  # False: the column names are made up ("column 1", ...)
    complete: bool  # False when only a prefix of the text was read


def parse_table(text: str, *, filename: str | None = None, complete: bool = True) -> Table | None:
    """Return the table in ``text`` if the text is essentially one table, else ``None``.

    Spreadsheet text marks each sheet with a ``# Sheet: <name>`` line; the first sheet is read.
    """
    text = first_sheet(text)
    lines = [line for line in text.split("\n", 4 * _SAMPLE_LINES) if line.strip()]
    min_rows = 2 if _tabular_name(filename) else _MIN_ROWS
    delimiter = _detect_delimiter(lines[:_SAMPLE_LINES], min_rows)
    if delimiter is None:
        return None
    rows = list(_read_rows(text, delimiter))
    if not rows:
        return None
    if _has_header(rows[0]):
        return Table(columns=rows[0], rows=rows[1:], has_header=True, complete=complete)
    names = [f"column {index}" for index in range(1, len(rows[0]) + 1)]
    return Table(columns=names, rows=rows, has_header=False, complete=complete)


_SHEET_MARK = re.compile(r"^# Sheet: .*$", re.MULTILINE)


def first_sheet(text: str) -> str:
    """The rows of the first sheet when the text is a spreadsheet's (``# Sheet:`` lines)."""
    if not text.startswith("# Sheet: "):
        return text
    blocks = [block.strip("\n") for block in _SHEET_MARK.split(text)]
    return next((block for block in blocks if block.strip()), "")


@dataclass(frozen=True)
class Sheet:
    name: str
    text: str  # its rows, one CSV line each


def sheets(text: str) -> list[Sheet]:
    """The non-empty sheets of a spreadsheet's text (``# Sheet:`` lines); [] for other text."""
    if not text.startswith("# Sheet: "):
        return []
    names = [mark[len("# Sheet: ") :].strip() for mark in _SHEET_MARK.findall(text)]
    blocks = [block.strip("\n") for block in _SHEET_MARK.split(text)[1:]]
    return [Sheet(name, block) for name, block in zip(names, blocks, strict=False) if block.strip()]


def sheet_point(sheet: Sheet) -> str:
    """One key point on a further sheet: its shape as a table, or its first line of text."""
    table = parse_table(sheet.text)
    if table is not None:
        described = table_summary(table).removeprefix("A table of ").rstrip(".")
        return trim(f"Sheet {sheet.name}: {described}.", POINT_CHARS)
    first = next(line for line in sheet.text.split("\n") if line.strip())
    return trim(f"Sheet {sheet.name}: {squash(first)}", POINT_CHARS)


def _tabular_name(filename: str | None) -> bool:
    return filename is not None and filename.lower().endswith(TABULAR_SUFFIXES)


def _detect_delimiter(lines: Sequence[str], min_rows: int) -> str | None:
    scores: dict[str, tuple[float, int]] = {}
    for delimiter in DELIMITERS:
        rows = list(_read_rows("\n".join(lines), delimiter))
        score = _consistency(rows, min_rows)
        if score is not None:
            scores[delimiter] = score
    return max(scores, key=lambda delimiter: scores[delimiter]) if scores else None


def _consistency(rows: Sequence[list[str]], min_rows: int) -> tuple[float, int] | None:
    """(share of rows with the usual width, that width) if rows look like a table."""
    if len(rows) < min_rows:
        return None
    width, count = Counter(len(row) for row in rows).most_common(1)[0]
    share = count / len(rows)
    cells = [cell for row in rows for cell in row]
    mean_cell = sum(len(cell) for cell in cells) / len(cells)
    if width < 2 or share < _CONSISTENCY or mean_cell > _MAX_MEAN_CELL_CHARS:
        return None
    return share, width


def _read_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    try:
        for raw in csv.reader(io.StringIO(text), delimiter=delimiter):
            row = [squash(cell) for cell in raw]
            if delimiter == "|":
                row = _strip_pipe_edges(row)
            if any(row) and not all(_SEPARATOR_CELL.match(cell) for cell in row):
                yield row
    except csv.Error:  # e.g. a field over csv.field_size_limit(): not a table we can read
        return


def _strip_pipe_edges(row: list[str]) -> list[str]:
    start = 1 if row and not row[0] else 0
    end = len(row) - 1 if len(row) > start and not row[-1] else len(row)
    return row[start:end]


def _has_header(row: Sequence[str]) -> bool:
    cells = [cell.casefold() for cell in row]
    return all(cells) and len(set(cells)) == len(cells) and not any(map(number, row))


def number(cell: str) -> float | None:
    """Parse ``1,234.5`` / ``1.234,5`` / ``12 %`` / ``€ 9.99`` cells; ``None`` if no number."""
    value = _CURRENCY.sub("", cell)
    if _NUMBER_EN.fullmatch(value):
        return float(value.replace(",", ""))
    if _NUMBER_DE.fullmatch(value):
        return float(value.replace(".", "").replace(",", "."))
    return None


def table_summary(table: Table) -> str:
    """One sentence on the table's shape and columns."""
    rows = f"{len(table.rows)} rows" if table.complete else f"at least {len(table.rows)} rows"
    shown = ", ".join(table.columns[:_SHOWN_COLUMNS])
    more = len(table.columns) - _SHOWN_COLUMNS
    columns = f"{shown} and {more} more" if more > 0 else shown
    return f"A table of {rows} and {len(table.columns)} columns: {columns}."


def table_points(table: Table) -> list[str]:
    """The first rows as ``column: value`` lists, then the range of numeric columns."""
    points = [_format_row(table.columns, row) for row in table.rows[:_SHOWN_ROWS]]
    points += _numeric_ranges(table)[:_NUMERIC_POINTS]
    return points[:_MAX_POINTS] or [trim("Columns: " + ", ".join(table.columns), POINT_CHARS)]


def _format_row(columns: Sequence[str], row: Sequence[str]) -> str:
    pairs = [f"{name}: {cell}" for name, cell in zip(columns, row, strict=False) if cell]
    return trim("; ".join(pairs), POINT_CHARS)


def _numeric_ranges(table: Table) -> list[str]:
    ranges = []
    for index, name in enumerate(table.columns):
        cells = [row[index] for row in table.rows if index < len(row) and row[index]]
        values = [value for value in map(number, cells) if value is not None]
        if len(values) >= 2 and len(values) == len(cells):
            low, high, total = _format(min(values)), _format(max(values)), _format(sum(values))
            ranges.append(f"{name}: from {low} to {high} (total {total})")
    return ranges


def _format(value: float) -> str:
    return f"{int(value):,}" if value.is_integer() else f"{value:,.2f}"


def table_keywords(table: Table, *, limit: int) -> list[str]:
    """Column names, then the most frequent text values of the cells."""
    values = Counter(cell for row in table.rows for cell in row if cell and number(cell) is None)
    columns = table.columns if table.has_header else []
    candidates = columns + [cell for cell, _count in values.most_common()]
    return dedupe_keywords((name.replace("_", " ") for name in candidates), str.lower, limit=limit)
