"""Tables and the queries that read them."""

from models.analytics import AnalyticsEvent
from models.digests import Digest, DigestStatus, DigestTrigger, DigestType
from models.files import FileRecord, FileSource, FileStatus, InboundMessage, MessageStatus
from models.imap import ImapFolderState, ImapMessageStatus, ImapProcessedMessage
from models.knowledge import KnowledgeItem
from models.tenancy import Tenant, User

__all__ = [
    "AnalyticsEvent",
    "Digest",
    "DigestStatus",
    "DigestTrigger",
    "DigestType",
    "FileRecord",
    "FileSource",
    "FileStatus",
    "ImapFolderState",
    "ImapMessageStatus",
    "ImapProcessedMessage",
    "InboundMessage",
    "KnowledgeItem",
    "MessageStatus",
    "Tenant",
    "User",
]
