"""A fake OpenAI-compatible chat-completions endpoint: real HTTP, canned replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

AnalysisJson = Callable[..., str]


@dataclass
class FakeCompletions:
    """What the fake endpoint answers, and every request it received."""

    status: int = 200
    body: bytes = b"{}"
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def reply_with(self, content: str, *, total_tokens: int = 321) -> None:
        """Answer with a real chat-completions body whose message content is ``content``."""
        self.status = 200
        self.body = json.dumps(chat_completion(content, total_tokens)).encode()

    def fail_with(self, status: int, body: bytes = b'{"error": "boom"}') -> None:
        self.status = status
        self.body = body


def chat_completion(content: str, total_tokens: int) -> dict[str, Any]:
    """An OpenAI chat-completions response body."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": total_tokens - 21,
            "completion_tokens": 21,
            "total_tokens": total_tokens,
        },
    }


def handler_for(state: FakeCompletions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            """Keep the test output quiet."""

    return Handler
