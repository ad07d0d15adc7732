"""Domain errors. Each carries a stable reason code and a message fit for the person who sent
the file."""

from __future__ import annotations


class ContentMindError(Exception):
    """Base of every error the product reports to a user."""

    reason: str = "internal_error"
    permanent: bool = True
    default_message: str = "Something went wrong while handling this file."

    def __init__(self, user_message: str | None = None, *, reason: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        if reason is not None:
            self.reason = reason
        super().__init__(self.user_message)

    def __reduce__(self) -> tuple[object, ...]:
        """Keep the reason when the error crosses a process boundary (the analysis pool)."""
        return (_rebuild, (type(self), self.user_message, self.reason))


def _rebuild(cls: type[ContentMindError], user_message: str, reason: str) -> ContentMindError:
    return cls(user_message, reason=reason)


class ExtractionError(ContentMindError):
    """The file could not be turned into text. Permanent unless stated otherwise."""

    reason = "extraction_failed"
    default_message = "The file could not be read."


class EmptyFile(ExtractionError):
    reason = "empty_file"
    default_message = "The file is empty (0 bytes)."


class CorruptFile(ExtractionError):
    reason = "corrupt_file"
    default_message = "The file is damaged or incomplete and could not be opened."


class TypeMismatch(ExtractionError):
    reason = "type_mismatch"
    default_message = "The file's content does not match its name or declared type."


class UnsupportedFile(ExtractionError):
    reason = "unsupported_type"
    default_message = "This kind of file is not supported."


class PasswordProtected(ExtractionError):
    reason = "encrypted_password_required"
    default_message = "The file is protected with a password; send an unprotected copy."


class ArchiveLimitsExceeded(ExtractionError):
    reason = "archive_limits_exceeded"
    default_message = "The file expands to far more data than its size suggests and was refused."


class TooLarge(ExtractionError):
    reason = "too_large"
    default_message = "The file is larger than the configured limit."


class NoTextLayer(ExtractionError):
    reason = "no_text_layer"
    default_message = (
        "The file holds only images (a scan or photo) and no text; it needs OCR, "
        "which is not available on this server."
    )


class NoText(ExtractionError):
    reason = "no_text"
    default_message = "No readable text was found in the file."


class JobTimeout(ContentMindError):
    reason = "timeout"
    permanent = False
    default_message = "Processing took longer than the time allowed per file."


class WorkerCrash(ContentMindError):
    reason = "worker_crash"
    default_message = "Processing stopped unexpectedly several times; the file was set aside."


class TransientError(ContentMindError):
    """A failure worth retrying (a service briefly unavailable)."""

    reason = "transient_error"
    permanent = False
    default_message = "A temporary problem stopped processing."


def given_up(error: ContentMindError, tries: int) -> ContentMindError:
    """A temporary failure that lasted through every try, told as what it now is: final."""
    if error.permanent:
        return error
    noun = "try" if tries == 1 else "tries"
    final = type(error).__new__(type(error))  # same class, reason and details; no __init__
    final.__dict__.update(error.__dict__)
    final.user_message = (
        f"{error.user_message} It did not work after {tries} {noun}; send the file again to "
        "try once more."
    )
    final.args = (final.user_message,)
    return final
