"""Errors told to people: a temporary failure that lasted through every try says it is final."""

from __future__ import annotations

from bot.download import SlackDownloadTransient
from services.errors import CorruptFile, TransientError, given_up


def test_given_up_keeps_class_reason_and_details_and_drops_the_retry_promise() -> None:
    error = SlackDownloadTransient(status=503, content_type="text/plain")
    final = given_up(error, 3)
    assert type(final) is SlackDownloadTransient
    assert final.reason == "slack_download_failed"
    assert final.details == {"status": 503, "content_type": "text/plain"}
    assert final.user_message.startswith(error.user_message)
    assert "did not work after 3 tries" in final.user_message
    assert str(final) == final.user_message
    assert error.user_message == SlackDownloadTransient.default_message  # the original is kept


def test_given_up_leaves_permanent_errors_as_they_are() -> None:
    error = CorruptFile("The PDF is damaged.")
    assert given_up(error, 1) is error
    assert "1 try;" in given_up(TransientError(), 1).user_message
