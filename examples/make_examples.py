"""Writes the sample files the demo emails: a PDF, a DOCX, and a forwarded message with an XLSX.

Run with the dev extras installed: `python examples/make_examples.py`. The outputs are committed,
so the demo needs none of the writer libraries.
"""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import openpyxl
from docx import Document
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

HERE = Path(__file__).resolve().parent

REPORT = [
    "Northwind Logistics: third quarter 2026 operating report",
    "Revenue grew to 4.2 million euros in the third quarter, up 12 percent on the second quarter, "
    "driven by the new cold-chain contracts in Rotterdam and Hamburg.",
    "Gross margin improved to 31 percent because fuel costs fell and the route planner cut empty "
    "kilometres by a fifth.",
    "Customer churn rose slightly to 3.1 percent; two mid-sized retailers moved to a cheaper "
    "regional carrier after the September price review.",
    "The warehouse automation pilot in Duisburg finished on time and reduced picking errors by "
    "40 percent; the board approved a rollout to two more sites in 2027.",
    "Hiring stayed below plan: 14 of 20 open driver positions were filled, and overtime costs "
    "rose accordingly.",
    "For the fourth quarter the team expects revenue of 4.5 million euros and will focus on "
    "retaining retail customers and finishing the Duisburg rollout plan.",
]

GUIDE = [
    "Engineering onboarding guide",
    "Welcome to the platform team. This guide lists what to do in your first two weeks.",
    "On day one, collect your laptop from the service desk and enable two-factor authentication "
    "on your company account.",
    "Ask your buddy for access to the deployment pipeline and the staging cluster; production "
    "access follows after the security training.",
    "In the first week, pair with a teammate on one small bug fix and ship it through the normal "
    "review process.",
    "Read the incident runbook and shadow one on-call shift before joining the rotation.",
    "By the end of week two, present a short summary of one service you studied to the team.",
]

BUDGET = [
    ["Department", "Budget 2026 (EUR)", "Draft 2027 (EUR)", "Change"],
    ["Operations", 1850000, 1920000, "+3.8%"],
    ["Fleet maintenance", 640000, 610000, "-4.7%"],
    ["Warehouse automation", 420000, 780000, "+85.7%"],
    ["Recruiting", 95000, 140000, "+47.4%"],
    ["Marketing", 210000, 205000, "-2.4%"],
]


def report_pdf() -> bytes:
    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    story = [Paragraph(REPORT[0], styles["Title"])]
    for paragraph in REPORT[1:]:
        story += [Paragraph(paragraph, styles["BodyText"]), Spacer(1, 8)]
    SimpleDocTemplate(buffer, pagesize=A4, title=REPORT[0]).build(story)
    return buffer.getvalue()


def guide_docx() -> bytes:
    document = Document()
    document.core_properties.title = GUIDE[0]
    document.add_heading(GUIDE[0], level=1)
    for paragraph in GUIDE[1:]:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def budget_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Budget 2027 draft"
    for row in BUDGET:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def forwarded_eml() -> bytes:
    message = EmailMessage()
    message["From"] = "Finance Team <finance@example.org>"
    message["To"] = "demo@example.com"
    message["Subject"] = "Budget 2027 draft for review"
    message["Message-ID"] = "<budget-2027-draft@example.org>"
    message.set_content(
        "Hi, attached is the draft budget for 2027. Warehouse automation nearly doubles; "
        "please send comments by Friday."
    )
    message.add_attachment(
        budget_xlsx(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="budget-2027-draft.xlsx",
    )
    return message.as_bytes()


def main() -> None:
    (HERE / "q3-operating-report.pdf").write_bytes(report_pdf())
    (HERE / "onboarding-guide.docx").write_bytes(guide_docx())
    (HERE / "fwd-budget-2027.eml").write_bytes(forwarded_eml())


if __name__ == "__main__":
    main()
