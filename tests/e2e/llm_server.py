"""A real local chat-completions endpoint whose answers can be held back (a slow or hung LLM)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.agents.fake_llm import chat_completion

TOKENS = 777  # usage.total_tokens of every answer, so a test can tell an LLM analysis apart
MAX_HOLD_S = 60.0  # a held request is answered after this at the latest


ANALYSIS = json.dumps(
    {
        "title": "Answered by the test LLM",
        "summary": "A document the test LLM summarised.",
        "key_points": ["It was analysed by the LLM."],
        "keywords": ["test", "llm", "document", "summary", "analysis"],
    }
)


@dataclass
class HeldLLM:
    """What the endpoint received, and which requests it holds back (never answering in time)."""

    base_url: str = ""
    hold: Callable[[str], bool] = lambda document: False
    documents: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, word: str | None = None) -> int:
        """How many requests arrived (those whose document holds `word`, if given)."""
        with self._lock:
            return sum(1 for d in self.documents if word is None or word in d)

    def answer_at_once(self) -> None:
        """From now on answer every new request immediately (held ones stay held)."""
        self.hold = lambda document: False

    def _record(self, document: str) -> bool:
        with self._lock:
            self.documents.append(document)
        return self.hold(document)


def _handler(state: HeldLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length))
            document = payload["messages"][-1]["content"]
            if state._record(document):
                state.released.wait(MAX_HOLD_S)
            body = json.dumps(chat_completion(ANALYSIS, TOKENS)).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the caller was killed or gave up while the request was held
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            """Keep the test output quiet."""

    return Handler


@contextmanager
def held_llm_server(hold: Callable[[str], bool] = lambda document: False) -> Iterator[HeldLLM]:
    """Serve on 127.0.0.1 until the block ends; held requests are released at the end."""
    state = HeldLLM(hold=hold)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
