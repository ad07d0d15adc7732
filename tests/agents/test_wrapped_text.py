"""Hard-wrapped text (as PDFs give it): sentences re-joined, headings kept apart, real titles."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from agents.contentmind import ContentMindAgent
from agents.text import split_sentences, unwrap
from services.extraction import extract
from services.extraction.limits import ExtractionLimits
from services.extraction.titles import metadata_title

WRAPPED = (
    "Solar farm proposal\n"
    "The council plans a solar farm with battery storage of\n"
    "twelve megawatt hours. The payback period is about five years if\n"
    "electricity prices stay at their current level during midday\n"
    "hours. Construction could start in spring.\n"
    "Risks\n"
    "- Grid connection may take a year.\n"
    "- Panel prices may rise."
)


def test_wrapped_lines_join_and_headings_and_list_items_stay_apart() -> None:
    assert unwrap(WRAPPED) == [
        "Solar farm proposal",
        "The council plans a solar farm with battery storage of twelve megawatt hours. The "
        "payback period is about five years if electricity prices stay at their current level "
        "during midday hours. Construction could start in spring. Risks",
        "- Grid connection may take a year.",
        "- Panel prices may rise.",
    ]
    assert list(split_sentences(WRAPPED)) == [
        "Solar farm proposal",
        "The council plans a solar farm with battery storage of twelve megawatt hours.",
        "The payback period is about five years if electricity prices stay at their current "
        "level during midday hours.",
        "Construction could start in spring.",
        "Risks",
        "- Grid connection may take a year.",
        "- Panel prices may rise.",
    ]


def test_a_heading_wrapped_over_two_lines_is_one_heading() -> None:
    text = (
        "Northwind Logistics: third quarter 2026 operating\n"
        "report\n"
        "Revenue grew to 4.2 million euros in the third quarter, up 12 percent on the second\n"
        "quarter, driven by the new cold-chain contracts."
    )
    assert list(split_sentences(text)) == [
        "Northwind Logistics: third quarter 2026 operating report",
        "Revenue grew to 4.2 million euros in the third quarter, up 12 percent on the second "
        "quarter, driven by the new cold-chain contracts.",
    ]


def test_tool_placeholders_are_not_titles() -> None:
    for placeholder in ["(anonymous)", "Untitled", "Microsoft Word - report.docx", "Document1",
                        "PowerPoint Presentation", "scan_0001.pdf", "  ", None]:  # fmt: skip
        assert metadata_title(placeholder) is None, placeholder
    assert metadata_title("Heron  Robotics pricing review") == "Heron Robotics pricing review"


def _reportlab_pdf() -> bytes:
    """reportlab's default metadata title is "(anonymous)"; the heading is the real title."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4).build([
        Paragraph("Heron Robotics pricing review 2027", styles["Title"]),
        Paragraph("The Heron Robotics board approved the pricing plan for the autonomous forklift "
                  "fleet in March 2027. A follow-up review is planned for the third quarter, when "
                  "the first customer deployments report their uptime figures. Lidar sensor costs "
                  "fell by eighteen percent, while the price of the drive units stays flat.",
                  styles["Normal"]),
        Spacer(1, 12),
        Paragraph("Maintenance contracts", styles["Heading2"]),
        Paragraph("Each fleet comes with a three-year maintenance contract. The contract covers "
                  "battery replacement and on-site repairs within two working days.",
                  styles["Normal"]),
    ])  # fmt: skip
    return buffer.getvalue()


def test_reportlab_pdf_gets_its_heading_as_title_and_whole_sentences() -> None:
    extracted = extract(_reportlab_pdf(), filename="heron.pdf", declared_type="application/pdf",
                        limits=ExtractionLimits())  # fmt: skip
    assert extracted.title is None  # "(anonymous)" dropped
    analysis = ContentMindAgent().analyze(extracted.text, title=extracted.title,
                                          filename="heron.pdf")  # fmt: skip
    assert analysis.title == "Heron Robotics pricing review 2027"
    assert "Heron Robotics pricing review 2027 The" not in analysis.summary
    assert "in March 2027." in analysis.summary + " ".join(analysis.key_points)
    for sentence in [analysis.summary, *analysis.key_points]:
        assert sentence[0].isupper() and sentence.endswith("."), sentence
    assert "Maintenance contracts" not in analysis.key_points
    assert analysis.title not in analysis.key_points
