"""The DigestAgent alone: grouping, ranking, lead, counts and failures (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.digest import OTHER_GROUP, DigestAgent, DigestFailure, DigestItem

T0 = datetime(2024, 3, 5, 7, 0, tzinfo=UTC)


def item(n: int, title: str, keywords: list[str], *, source: str = "email", tokens: int = 100,
         points: int = 2) -> DigestItem:  # fmt: skip
    return DigestItem(
        id=f"i{n}", title=title, summary=f"{title} in a few words.",
        key_points=[f"{title} point {k}" for k in range(points)], keywords=keywords,
        source=source, filename=f"{title.lower().replace(' ', '-')}.pdf",
        created_at=T0 + timedelta(minutes=n), token_count=tokens,
    )  # fmt: skip


ITEMS = [
    item(1, "Q3 budget", ["budget", "forecast"]),
    item(2, "Budget draft 2027", ["budget", "hiring"], source="slack"),
    item(3, "Supplier contract", ["supplier", "contract"]),
    item(4, "Supplier review", ["supplier", "quality"], tokens=5000),
    item(5, "Canteen menu", ["lunch"], tokens=10, points=0),
]


def test_groups_items_by_shared_keyword_and_keeps_the_rest_apart() -> None:
    """Keywords shared by two items become topics; an item sharing nothing goes to Other."""
    content = DigestAgent().build(ITEMS)
    names = [(g.name, sorted(r.item.id for r in g.items)) for g in content.groups]
    assert names == [("Budget", ["i1", "i2"]), ("Supplier", ["i3", "i4"]), (OTHER_GROUP, ["i5"])]
    assert content.topics == ("Budget", "Supplier")
    assert (content.item_count, content.shown_count, content.more_count) == (5, 5, 0)


def test_ranks_substance_first_within_a_group() -> None:
    """The longer supplier review ranks above the shorter contract in the same topic."""
    content = DigestAgent().build(ITEMS)
    supplier = next(g for g in content.groups if g.name == "Supplier")
    assert [r.item.id for r in supplier.items] == ["i4", "i3"]
    assert supplier.items[0].score > supplier.items[1].score


def test_lead_tells_count_topics_sources_and_failures() -> None:
    """The lead counts items, names the topics and sources, and the failed files."""
    failures = [
        DigestFailure("f1", "scan.pdf", "no_text_layer", "The file holds only images."),
        DigestFailure("f2", "old.pdf", "no_text_layer", "The file holds only images."),
        DigestFailure("f3", "locked.docx", "encrypted_password_required", "It has a password."),
    ]
    content = DigestAgent().build(ITEMS, failures)
    assert content.lead == (
        "5 new items: mostly about budget and supplier. 4 by email and 1 from Slack. "
        "3 files could not be read."
    )
    assert [(f.count, f.message, f.filenames) for f in content.failures] == [
        (2, "The file holds only images.", ("scan.pdf", "old.pdf")),
        (1, "It has a password.", ("locked.docx",)),
    ]
    assert content.failure_count == 3 and not content.is_empty


def test_a_file_that_failed_on_every_resend_is_one_failed_file() -> None:
    """The same broken file sent three times (three records, one content) is listed once, with
    how often it came, and counted once; another file of the same name is another file."""
    broken = "The PDF is damaged or incomplete."
    failures = [
        DigestFailure("f1", "half.pdf", "corrupt_or_truncated_pdf", broken, "aa"),
        DigestFailure("f2", "half.pdf", "corrupt_or_truncated_pdf", broken, "aa"),
        DigestFailure("f3", "half.pdf", "corrupt_or_truncated_pdf", broken, "aa"),
        DigestFailure("f4", "half.pdf", "corrupt_or_truncated_pdf", broken, "bb"),
    ]
    content = DigestAgent().build([], failures)
    assert [(f.count, f.filenames) for f in content.failures] == [
        (2, ("half.pdf (sent 3 times)", "half.pdf")),
    ]
    assert content.failure_count == 2
    assert content.lead == "Nothing new was added; 2 files could not be read."


def test_without_shared_topics_groups_by_source() -> None:
    """No keyword in two items: groups are by source, the lead names the first titles."""
    items = [item(1, "Alpha", ["a"]), item(2, "Beta", ["b"], source="slack"), item(3, "Gamma", [])]
    content = DigestAgent().build(items)
    assert [g.name for g in content.groups] == ["By email", "From Slack"]
    assert content.lead.startswith("3 new items: ") and content.lead.count("1 more") == 1


def test_source_grouping_when_asked() -> None:
    """group_by="source" ignores topics."""
    content = DigestAgent(group_by="source").build(ITEMS)
    assert [(g.name, len(g.items)) for g in content.groups] == [("By email", 4), ("From Slack", 1)]


def test_caps_items_and_counts_the_rest() -> None:
    """Past max_items the best-ranked are shown and the rest counted as more."""
    many = [item(n, f"Report {n}", ["report"]) for n in range(40)]
    content = DigestAgent(max_items=30).build(many)
    assert (content.item_count, content.shown_count, content.more_count) == (40, 30, 10)


def test_summary_and_points_are_trimmed() -> None:
    """Long summaries are cut at a word with an ellipsis; at most three key points."""
    long = DigestItem(
        id="x", title="Long", summary="word " * 300, key_points=[f"p{k}" for k in range(6)],
        keywords=[], source="email", filename="long.txt", created_at=T0,
    )  # fmt: skip
    [ranked] = DigestAgent(summary_chars=100).build([long]).groups[0].items
    assert len(ranked.summary) <= 100 and ranked.summary.endswith("…")
    assert ranked.key_points == ("p0", "p1", "p2")


def test_nothing_new_is_empty() -> None:
    """No items and no failures: an empty digest with a plain lead."""
    content = DigestAgent().build([])
    assert content.is_empty and content.lead == "Nothing new." and content.groups == ()
