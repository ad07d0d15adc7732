"""Turns whatever a third-party parser raises on untrusted bytes into a domain error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from services.errors import ExtractionError


@contextmanager
def parser_errors(make_error: Callable[[], ExtractionError]) -> Iterator[None]:
    """Re-raise domain errors and MemoryError as they are; map any other failure to ``make_error``.

    Parsers fed hostile or damaged input fail in arbitrary ways (KeyError, ValueError,
    lxml errors, struct errors...), so the catch is deliberately broad.
    """
    try:
        yield
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:
        raise make_error() from exc
