"""Zip-bomb defence for OOXML files, run before any Office library opens the archive.

Two stages:
1. From the central directory alone (nothing inflated): member count, total declared size,
   and the compression ratio of every member past a small grace size (as Apache POI does).
2. A streaming inflation of every member straight from its raw deflate data, ignoring the
   declared sizes (which can lie), counting the bytes actually produced in bounded chunks and
   stopping at the first limit crossed. Memory stays at one chunk; time is bounded by the
   uncompressed limit.
Once both pass, zipfile (used by the Office libraries) cannot inflate more than the declared,
now verified, sizes: it stops at the declared size and fails on the CRC otherwise.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from services.errors import ArchiveLimitsExceeded, CorruptFile
from services.extraction.limits import ExtractionLimits

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_EOCD_SEARCH = _EOCD_SIZE + 0xFFFF  # the record plus the longest comment
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_RATIO_GRACE_BYTES = 100 * 1024  # small members may compress very well (empty XML parts)
_INPUT_CHUNK = 64 * 1024
_OUTPUT_CHUNK = 1024 * 1024
_ENCRYPTED_FLAG = 0x1


def declared_member_count(data: bytes) -> int | None:
    """Member count from the end-of-central-directory record, or None when not found."""
    position = data.rfind(_EOCD, max(0, len(data) - _EOCD_SEARCH))
    if position < 0 or position + _EOCD_SIZE > len(data):
        return None
    (total,) = struct.unpack_from("<H", data, position + 10)
    return int(total)


def check_archive(data: bytes, limits: ExtractionLimits) -> None:
    """Raise ArchiveLimitsExceeded for a zip bomb, CorruptFile for a broken zip."""
    count = declared_member_count(data)
    if count is not None and count > limits.max_archive_members:
        raise _exceeded("it holds too many parts")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_declared(infos, limits)
            _check_inflated(archive, data, infos, limits)
    except zipfile.BadZipFile as exc:
        raise CorruptFile() from exc


def _exceeded(detail: str) -> ArchiveLimitsExceeded:
    return ArchiveLimitsExceeded(
        f"The file was refused because {detail}: it would expand to far more data "
        "than its size suggests (a possible zip bomb)."
    )


def _check_declared(infos: list[zipfile.ZipInfo], limits: ExtractionLimits) -> None:
    if len(infos) > limits.max_archive_members:
        raise _exceeded("it holds too many parts")
    if sum(info.file_size for info in infos) > limits.max_archive_uncompressed:
        raise _exceeded("its declared content is too large")
    for info in infos:
        if _ratio_too_high(info.file_size, info.compress_size, limits):
            raise _exceeded("one of its parts is compressed at an implausible ratio")


def _ratio_too_high(inflated: int, compressed: int, limits: ExtractionLimits) -> bool:
    if inflated <= _RATIO_GRACE_BYTES:
        return False
    return inflated / max(compressed, 1) > limits.max_compression_ratio


def _check_inflated(
    archive: zipfile.ZipFile, data: bytes, infos: list[zipfile.ZipInfo], limits: ExtractionLimits
) -> None:
    budget = limits.max_archive_uncompressed
    for info in infos:
        if info.flag_bits & _ENCRYPTED_FLAG:
            raise CorruptFile()
        # A member may inflate to its declared size at most; never past the remaining budget.
        allowed = min(info.file_size, budget)
        inflated = _inflated_size(archive, data, info, allowed)
        if inflated > allowed:
            raise _exceeded("its parts expand beyond their declared sizes or the size limit")
        if _ratio_too_high(inflated, info.compress_size, limits):
            raise _exceeded("one of its parts is compressed at an implausible ratio")
        budget -= inflated


def _inflated_size(
    archive: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, allowed: int
) -> int:
    """Bytes the member really inflates to, counting at most ``allowed + 1``."""
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return _deflated_size(data, _data_offset(data, info), allowed)
    if info.compress_type == zipfile.ZIP_STORED:
        return info.compress_size
    return _opened_size(archive, info, allowed)


def _data_offset(data: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's compressed bytes start, read from its local header."""
    start = info.header_offset
    if start + _LOCAL_HEADER.size > len(data):
        raise CorruptFile()
    fields = _LOCAL_HEADER.unpack_from(data, start)
    if fields[0] != _LOCAL_SIGNATURE:
        raise CorruptFile()
    name_length, extra_length = fields[9], fields[10]
    return int(start + _LOCAL_HEADER.size + name_length + extra_length)


def _deflated_size(data: bytes, offset: int, allowed: int) -> int:
    """Inflate a raw deflate stream chunk by chunk, stopping once past ``allowed``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    view = memoryview(data)
    total = 0
    while not inflater.eof and offset < len(data) and total <= allowed:
        pending = bytes(view[offset : offset + _INPUT_CHUNK])
        offset += len(pending)
        while pending and total <= allowed and not inflater.eof:
            try:
                total += len(inflater.decompress(pending, _OUTPUT_CHUNK))
            except zlib.error as exc:
                raise CorruptFile() from exc
            pending = inflater.unconsumed_tail
    return total


def _opened_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, allowed: int) -> int:
    """For rare methods (bzip2, lzma) zipfile's own reader, which stops at the declared size."""
    total = 0
    with archive.open(info) as member:
        while total <= allowed and (chunk := member.read(_OUTPUT_CHUNK)):
            total += len(chunk)
    return total
