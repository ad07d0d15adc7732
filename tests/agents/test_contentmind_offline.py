"""Offline analysis: prose, German, tables, tiny and huge inputs."""

from __future__ import annotations

import socket
import time

import nltk.data
import pytest
from segtok.segmenter import split_single

from agents.contentmind import Analysis, ContentMindAgent
from agents.pipeline import analyze_file
from agents.text import guess_language, squash
from agents.tokens import count_tokens
from services.extraction import ExtractionLimits
from tests.factories.files import make_xlsx


def _sentences(text: str) -> list[str]:
    return [sentence for sentence in split_single(text) if sentence.strip()]


def _assert_drawn_from(analysis: Analysis, text: str) -> None:
    flat = squash(text)
    for sentence in _sentences(analysis.summary):
        assert sentence in flat
    for point in analysis.key_points:
        assert point in flat


def test_english_report_summary_is_made_of_sentences_from_the_text(quarterly_report: str) -> None:
    """The summary of English prose is 1-3 sentences taken verbatim from the text."""
    analysis = ContentMindAgent().analyze(quarterly_report)

    assert 1 <= len(_sentences(analysis.summary)) <= 3
    _assert_drawn_from(analysis, quarterly_report)
    assert analysis.backend == "offline"


def test_english_report_key_points_are_distinct_and_in_document_order(
    quarterly_report: str,
) -> None:
    """Key points are 3-7 distinct text sentences, not repeating the summary, in order."""
    analysis = ContentMindAgent().analyze(quarterly_report)
    flat = squash(quarterly_report)

    assert 3 <= len(analysis.key_points) <= 7
    assert len(set(analysis.key_points)) == len(analysis.key_points)
    assert not set(analysis.key_points) & set(_sentences(analysis.summary))
    positions = [flat.index(point) for point in analysis.key_points]
    assert positions == sorted(positions)
    assert all(len(point) <= 200 for point in analysis.key_points)


def test_english_report_keywords_name_the_topic(quarterly_report: str) -> None:
    """Keywords are 5-10 lower-case, unique phrases that include the report's main topics."""
    keywords = ContentMindAgent().analyze(quarterly_report).keywords
    words = {word for keyword in keywords for word in keyword.split()}

    assert 5 <= len(keywords) <= 10
    assert keywords == [keyword.lower() for keyword in keywords]
    assert len(set(keywords)) == len(keywords)
    assert {"revenue", "margin", "subscription"} <= words


def test_english_report_title_and_token_counts(quarterly_report: str) -> None:
    """The title is the first line; token_count lies between the word count and twice it."""
    analysis = ContentMindAgent().analyze(quarterly_report)
    words = len(quarterly_report.split())

    assert analysis.title == "Northwind Analytics Quarterly Report: Q3 2024"
    assert words <= analysis.token_count <= 2 * words
    assert analysis.token_count == count_tokens(quarterly_report)
    assert analysis.tokens_used == analysis.token_count


def test_given_title_wins_over_the_derived_one(quarterly_report: str) -> None:
    """A title passed by the caller is used as is (whitespace squashed)."""
    analysis = ContentMindAgent().analyze(quarterly_report, title="  Board pack\nQ3 ")

    assert analysis.title == "Board pack Q3"


def test_german_invoice_is_analysed_in_german(german_invoice: str) -> None:
    """A German letter gets German sentences, points and keywords, none of the salutations."""
    analysis = ContentMindAgent().analyze(german_invoice)

    assert guess_language(german_invoice) == "de"
    _assert_drawn_from(analysis, german_invoice)
    assert 3 <= len(analysis.key_points) <= 7
    assert 5 <= len(analysis.keywords) <= 10
    assert any("rechnung" in keyword for keyword in analysis.keywords)
    assert not any("geehrte" in keyword or "grüßen" in keyword for keyword in analysis.keywords)
    assert analysis.title.startswith("Müller & Schmidt GmbH")


def test_csv_summary_describes_columns_and_row_count(sales_csv: str) -> None:
    """A CSV is summarised by its shape and column names, not by ranking its rows."""
    analysis = ContentMindAgent().analyze(sales_csv, filename="exports/sales_july.csv")

    assert analysis.summary == (
        "A table of 7 rows and 5 columns: date, region, product, units, revenue."
    )
    assert analysis.title == "sales_july"


def test_csv_key_points_show_first_rows_and_numeric_ranges(sales_csv: str) -> None:
    """Key points list the first rows as column: value pairs, then numeric column ranges."""
    points = ContentMindAgent().analyze(sales_csv).key_points

    assert points[0] == (
        "date: 2024-07-01; region: North; product: Widget; units: 120; revenue: 2400.50"
    )
    assert len(points) == 7
    assert "units: from 40 to 150 (total 615)" in points
    assert "revenue: from 1,200.25 to 3,800 (total 19,100.75)" in points


def test_csv_keywords_are_columns_then_frequent_values(sales_csv: str) -> None:
    """Table keywords are the column names followed by the most frequent text cells."""
    keywords = ContentMindAgent().analyze(sales_csv).keywords

    assert keywords[:5] == ["date", "region", "product", "units", "revenue"]
    assert "widget" in keywords
    assert len(keywords) == 10


def test_semicolon_csv_with_decimal_commas_is_a_table() -> None:
    """A German-style CSV (';' separated, decimal commas) is read as a table."""
    text = "Artikel;Menge;Preis\nSchrauben;100;4,50\nMuttern;200;3,20\n"
    analysis = ContentMindAgent().analyze(text, filename="bestellung.csv")

    assert analysis.summary == "A table of 2 rows and 3 columns: Artikel, Menge, Preis."
    assert "Preis: from 3.20 to 4.50 (total 7.70)" in analysis.key_points


def test_prose_with_commas_is_not_mistaken_for_a_table(quarterly_report: str) -> None:
    """Paragraphs with commas stay prose: the summary is not a table description."""
    analysis = ContentMindAgent().analyze(quarterly_report)

    assert not analysis.summary.startswith("A table of")


def test_one_line_text_is_its_own_summary() -> None:
    """A one-line text becomes title, summary and only key point as it stands."""
    line = "Please review the attached supplier contract before the Friday meeting."
    analysis = ContentMindAgent().analyze(line)

    assert analysis.summary == line
    assert analysis.key_points == [line]
    assert analysis.title == line
    assert {"supplier contract", "friday meeting"} & set(analysis.keywords)


def test_empty_text_gives_an_empty_analysis_named_after_the_file() -> None:
    """Whitespace-only text yields no summary, points or keywords; the title is the file name."""
    analysis = ContentMindAgent().analyze(" \n\t ", filename="C:\\scans\\blank page.pdf")

    assert analysis == Analysis("blank page", "", [], [], 2, 2, "offline")


def test_repeated_sentences_yield_distinct_key_points() -> None:
    """Repeated sentences count once: key points never repeat each other."""
    text = "\n\n".join(
        ["The server was restarted at noon.", "Disk usage dropped to 40 percent."] * 10
        + ["The backup job finished without errors.", "Nobody reported any outage."]
    )
    analysis = ContentMindAgent().analyze(text)

    assert len(set(analysis.key_points)) == len(analysis.key_points) == 3
    assert len(_sentences(analysis.summary)) == 2


def test_hard_wrapped_lines_are_rejoined_into_sentences() -> None:
    """PDF-style hard-wrapped paragraphs give whole sentences, not line fragments."""
    text = (
        "The committee approved the new travel policy after a long discussion\n"
        "about costs and the environmental impact of short-haul flights across\n"
        "the whole company. Train travel is now mandatory for trips under four hours.\n"
    )
    analysis = ContentMindAgent().analyze(text)

    assert analysis.key_points[0] == (
        "The committee approved the new travel policy after a long discussion about costs "
        "and the environmental impact of short-haul flights across the whole company."
    )


def test_huge_text_is_analysed_in_bounded_time(quarterly_report: str) -> None:
    """A 2 MB text completes quickly, is analysed from its prefix and fully token-counted."""
    paragraphs = quarterly_report.split("\n\n")
    numbered = (f"Section {n}. " + paragraphs[n % len(paragraphs)] for n in range(20_000))
    text = "\n\n".join(numbered)[:2_000_000]

    started = time.perf_counter()
    analysis = ContentMindAgent().analyze(text)
    elapsed = time.perf_counter() - started

    assert len(text) == 2_000_000
    assert elapsed < 20
    assert analysis.token_count == count_tokens(text) > 400_000
    assert 3 <= len(analysis.key_points) <= 7
    assert 5 <= len(analysis.keywords) <= 10
    _assert_drawn_from(analysis, text[:50_000])


def test_max_input_chars_bounds_what_is_analysed() -> None:
    """Only the first max_input_chars are analysed; token_count still covers all the input."""
    head = "Alpha project kickoff is on Monday in Berlin."
    tail = " Zebra migration finished." * 1000
    analysis = ContentMindAgent(max_input_chars=len(head)).analyze(head + tail)

    assert analysis.summary == head
    assert not any("zebra" in keyword for keyword in analysis.keywords)
    assert analysis.token_count == count_tokens(head + tail)


def test_offline_analysis_needs_no_nltk_data_and_no_network(
    monkeypatch: pytest.MonkeyPatch, quarterly_report: str, german_invoice: str
) -> None:
    """Offline analysis never loads NLTK data (punkt) and never opens a connection."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline analysis must not load data or use the network")

    monkeypatch.setattr(nltk.data, "load", forbidden)
    monkeypatch.setattr(nltk.data, "find", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    agent = ContentMindAgent()

    for text in (quarterly_report, german_invoice):
        assert agent.analyze(text).key_points


def test_keywords_never_carry_an_unbalanced_bracket() -> None:
    """A column header cut by the phrase window loses its stray bracket, not its words."""
    text = (
        "Department,Budget 2026 (EUR),Draft 2027 (EUR)\n"
        "Operations,1850000,1920000\nFleet,640000,610000\n"
    )
    analysis = ContentMindAgent().analyze(text, filename="budget.csv")
    assert analysis.keywords
    for keyword in analysis.keywords:
        assert keyword.count("(") == keyword.count(")"), keyword


def test_workbook_summary_names_every_sheet_and_gives_each_further_sheet_a_point() -> None:
    """An XLSX of several sheets: the first is described as a table, the others are not lost."""
    data = make_xlsx(
        {
            "Budget": [["Item", "Amount"], ["Laptops", 12000], ["Desks", 800], ["Chairs", 450]],
            "Suppliers": [["Name", "Country"], ["Ostwind GmbH", "Germany"], ["Valmora", "Italy"]],
            "Notes": [["Approved by the finance board in March."]],
        }
    )
    result = analyze_file(
        data, filename="budget.xlsx", declared_type=None, limits=ExtractionLimits()
    )
    analysis = result.analysis

    assert analysis.summary == (
        "A workbook of 3 sheets (Budget, Suppliers, Notes). "
        "Budget: a table of 3 rows and 2 columns: Item, Amount."
    )
    assert analysis.key_points[0] == "Item: Laptops; Amount: 12000"
    assert "Amount: from 450 to 12,000 (total 13,250)" in analysis.key_points
    assert analysis.key_points[-2:] == [
        "Sheet Suppliers: 2 rows and 2 columns: Name, Country.",
        "Sheet Notes: Approved by the finance board in March.",
    ]
    assert 3 <= len(analysis.key_points) <= 7


def test_single_sheet_workbook_is_described_as_its_table() -> None:
    """One sheet: the summary is the table's, as for a CSV."""
    data = make_xlsx({"Freight": [["Carrier", "Cost"], ["Zephyrline", 1200], ["Borealis", 900]]})
    result = analyze_file(
        data, filename="freight.xlsx", declared_type=None, limits=ExtractionLimits()
    )

    assert result.analysis.summary == "A table of 2 rows and 2 columns: Carrier, Cost."


def test_the_summary_does_not_repeat_a_title_taken_from_the_first_line() -> None:
    """A first line written as a sentence becomes the title; the summary, shown under it, is
    made of the other sentences and is as long as it would be with that line in it."""
    text = (
        "Zephyrquokka expansion plan for the northern depots.\n"
        "The zephyrquokka programme will open three new depots in 2027 and hire forty drivers.\n"
        "Costs are expected to rise by eight percent while revenue forecasts grow by fifteen "
        "percent.\n"
        "The board reviews the zephyrquokka budget in March.\n"
    )
    analysis = ContentMindAgent().analyze(text, filename="plan.pdf")

    assert analysis.title == "Zephyrquokka expansion plan for the northern depots."
    assert "expansion plan" not in analysis.summary
    assert len(_sentences(analysis.summary)) == 2  # as for four sentences
    assert analysis.summary.startswith("The zephyrquokka programme will open three new depots")
    assert len(analysis.key_points) == 3
