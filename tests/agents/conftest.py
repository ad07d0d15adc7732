"""Sample documents and a real local OpenAI-compatible HTTP server for the agent tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from tests.agents.fake_llm import AnalysisJson, FakeCompletions, handler_for

QUARTERLY_REPORT = """\
Northwind Analytics Quarterly Report: Q3 2024

Northwind Analytics closed the third quarter of 2024 with revenue of 48.2 million euros, \
an increase of 14 percent compared with the same quarter last year. Revenue growth was \
driven mainly by the cloud subscription business, which now accounts for more than half \
of total revenue.

Subscription revenue reached 26.1 million euros in the quarter. The number of paying \
cloud customers grew to 3,450, and average revenue per customer rose by 6 percent as \
larger customers moved to the enterprise plan.

Professional services revenue declined slightly to 9.8 million euros. The company \
deliberately shifted consultants from one-off implementation projects to recurring \
managed services, which lowered services revenue in the short term but improves \
customer retention.

Gross margin improved to 71 percent from 67 percent a year earlier. The improvement \
came from lower hosting costs after the migration to a new data centre provider and \
from a higher share of subscription revenue in the revenue mix.

Operating expenses rose by 9 percent to 29.4 million euros. Most of the increase went \
into research and development, where headcount grew by 42 engineers, and into sales \
capacity in Germany and the Nordic countries.

Operating profit for the quarter was 4.7 million euros, compared with 2.1 million euros \
in the third quarter of 2023. The operating margin therefore reached 9.8 percent, the \
highest quarterly operating margin in the history of the company.

Cash flow from operations was 6.3 million euros. The company ended the quarter with \
cash of 61 million euros and no debt, which leaves room for the planned acquisitions \
in the data integration market.

Customer churn fell to 4.1 percent on an annual basis. Customer satisfaction scores \
improved after the launch of the new support portal, and the net promoter score rose \
from 38 to 45 during the quarter.

The product team released version 5 of the analytics platform in August. The release \
added real-time dashboards, a new forecasting module and connectors for three more \
enterprise resource planning systems.

For the fourth quarter, management expects revenue between 51 and 53 million euros and \
an operating margin of around 10 percent. The full-year revenue guidance was raised to \
between 188 and 190 million euros, reflecting the strong subscription growth.
"""

GERMAN_INVOICE = """\
Müller & Schmidt GmbH · Hauptstraße 12 · 80331 München

Rechnung Nr. 2024-0815

Sehr geehrte Damen und Herren,

vielen Dank für Ihren Auftrag. Wir erlauben uns, Ihnen die folgenden Leistungen für den \
Monat September in Rechnung zu stellen.

Die Wartung der Heizungsanlage im Bürogebäude wurde am 12. September durchgeführt. \
Dabei wurden die Brenner gereinigt und zwei defekte Ventile ausgetauscht.

Der Rechnungsbetrag beträgt 1.428,00 Euro netto zuzüglich 19 Prozent Mehrwertsteuer, \
insgesamt 1.699,32 Euro. Bitte überweisen Sie den Rechnungsbetrag innerhalb von \
14 Tagen auf das unten genannte Konto.

Bei Fragen zur Rechnung wenden Sie sich bitte an unsere Buchhaltung. Wir freuen uns \
auf die weitere Zusammenarbeit mit Ihnen.

Mit freundlichen Grüßen
Müller & Schmidt GmbH
"""

SALES_CSV = """\
date,region,product,units,revenue
2024-07-01,North,Widget,120,2400.50
2024-07-01,South,Gadget,80,3200.00
2024-07-02,North,Gadget,95,3800.00
2024-07-02,East,Widget,60,1200.25
2024-07-03,West,Widget,150,3000.00
2024-07-03,South,Gizmo,40,2000.00
2024-07-04,East,Gizmo,70,3500.00
"""


@pytest.fixture
def quarterly_report() -> str:
    return QUARTERLY_REPORT


@pytest.fixture
def german_invoice() -> str:
    return GERMAN_INVOICE


@pytest.fixture
def sales_csv() -> str:
    return SALES_CSV


@pytest.fixture
def completions_server() -> Iterator[FakeCompletions]:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions shape; stopped after."""
    state = FakeCompletions()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def analysis_json() -> AnalysisJson:
    """Factory for the JSON object a model would return."""

    def build(**overrides: Any) -> str:
        payload = {
            "title": "Q3 results",
            "summary": "Revenue grew 14 percent on subscriptions.",
            "key_points": ["Revenue 48.2M EUR", "Gross margin 71%", "Guidance raised"],
            "keywords": ["Revenue", "subscriptions", "margin", "guidance", "cloud"],
        }
        payload.update(overrides)
        return json.dumps(payload)

    return build
