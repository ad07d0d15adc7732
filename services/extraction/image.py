"""Images (PNG, JPEG, TIFF, ...) through OCR; multi-page TIFFs up to the page limit."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

from PIL import Image, ImageSequence

from services.errors import CorruptFile, TooLarge
from services.extraction.guard import parser_errors
from services.extraction.limits import ExtractionLimits
from services.extraction.ocr import recognise, require_ocr
from services.extraction.result import Draft


def extract_image(data: bytes, limits: ExtractionLimits) -> Draft:
    """OCR text of the image (raises NoTextLayer when OCR is unavailable)."""
    require_ocr(limits)
    with parser_errors(CorruptFile), warnings.catch_warnings():
        # Pillow's decompression-bomb warning (over ~89 Mpx) becomes an error, like its 2x limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            size = image.size
            frames = getattr(image, "n_frames", 1)
            result = recognise(_frames(image, limits.max_pages), limits)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge("The image has too many pixels to be read.") from exc
    metadata = {
        "ocr": True,
        "width": size[0],
        "height": size[1],
        "frames": frames,
        "truncated": result.timed_out or frames > limits.max_pages,
    }
    if result.timed_out:
        metadata["ocr_timed_out"] = True
    return Draft(text=result.text, metadata=metadata)


def _frames(image: Image.Image, max_frames: int) -> Iterator[Image.Image]:
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= max_frames:
            return
        frame.load()
        yield frame.copy()
