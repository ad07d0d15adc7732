"""What listeners need besides bolt's own arguments, carried in bolt's `context`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment

from services.runtime import Runtime

CONTEXT_KEY = "contentmind"


@dataclass(frozen=True)
class BotDeps:
    """Built once per process. Bolt deep-copies the context for lazy listeners: this is shared."""

    rt: Runtime
    env: Environment  # templates/, for Block Kit messages

    def __copy__(self) -> BotDeps:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BotDeps:
        return self


def deps_of(context: Any) -> BotDeps:
    deps: BotDeps = context[CONTEXT_KEY]
    return deps
