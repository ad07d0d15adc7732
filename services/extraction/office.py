"""What DOCX, PPTX and XLSX extraction share: the archive check and the mapping of failures."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from services.errors import CorruptFile
from services.extraction.guard import parser_errors
from services.extraction.limits import ExtractionLimits
from services.extraction.titles import metadata_title
from services.extraction.ziplimits import check_archive

# Titles Office templates leave in the core properties of documents nobody named.


@contextmanager
def opened_ooxml(data: bytes, limits: ExtractionLimits) -> Iterator[None]:
    """Refuse zip bombs, then run the body with any parser failure reported as ``corrupt_file``.

    Office libraries warn about harmless oddities (unknown extensions, missing styles); those
    warnings say nothing to the user and are silenced here.
    """
    check_archive(data, limits)
    with parser_errors(CorruptFile), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def core_title(title: str | None) -> str | None:
    """The core-properties title, unless it is empty or a template placeholder."""
    return metadata_title(title)
