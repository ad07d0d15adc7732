"""Tables and the queries that read them."""

from models.analytics import AnalyticsEvent
from models.files import FileRecord, FileSource, FileStatus, InboundMessage, MessageStatus
from models.knowledge import KnowledgeItem
from models.tenancy import Tenant, User

__all__ = [
    "AnalyticsEvent",
    "FileRecord",
    "FileSource",
    "FileStatus",
    "InboundMessage",
    "KnowledgeItem",
    "MessageStatus",
    "Tenant",
    "User",
]
