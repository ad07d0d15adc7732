"""One settings object, read once per entry point (CLI command, worker, SMTP server) and passed down."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


class SenderPolicy(StrEnum):
    """How an email sender is mapped to a tenant."""

    AUTO = "auto"  # any sender; the tenant is the sender's domain (created on first mail)
    ALLOWLIST = "allowlist"  # only addresses/domains in allowed_senders


class Settings(BaseSettings):
    """Everything configurable, from CONTENTMIND_* variables or a .env file."""

    model_config = SettingsConfigDict(
        env_prefix="CONTENTMIND_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Path(".contentmind")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    queue_name: str = "contentmind:queue"

    # email ingest
    ingest_domain: str = "ingest.localhost"
    ingest_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["files@ingest.localhost"]
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_max_message_bytes: int = 40 * MIB
    smtp_max_line_bytes: int = 64 * 1024
    sender_policy: SenderPolicy = SenderPolicy.AUTO
    allowed_senders: Annotated[list[str], NoDecode] = Field(
        default_factory=list
    )  # addresses or @domains

    # outgoing mail (replies, digests): relay when set, else the local outbox
    relay_host: str | None = None
    relay_port: int = 587
    relay_username: str | None = None
    relay_password: SecretStr | None = None
    relay_starttls: bool = True
    relay_ssl: bool = False
    mail_from: str = "ContentMind <contentmind@ingest.localhost>"
    ingest_reply: str = "always"  # always | failures | never: the receipt listing every file
    max_attachments: int = 100
    templates_dir: Path | None = None  # operator overrides, searched before the shipped templates

    # files and processing
    max_file_bytes: int = 25 * MIB
    max_text_chars: int = 2_000_000
    max_pages: int = 500
    max_archive_uncompressed_bytes: int = 50 * MIB
    max_compression_ratio: float = 100.0
    ocr_enabled: bool = True
    ocr_languages: str = "eng"

    # jobs
    job_max_tries: int = 3
    job_retry_backoff_s: float = 5.0
    job_timeout_s: float = 120.0
    worker_concurrency: int = 4
    keep_result_s: int = 3600
    analysis_processes: int = 2
    analysis_memory_limit_mb: int = 2048  # address-space cap per analysis process (0 = none)

    # analytics
    analytics_flush_interval_s: float = 0.5
    analytics_batch_size: int = 500

    # optional LLM backend (any OpenAI-compatible endpoint)
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0

    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"

    @field_validator("ingest_addresses", "allowed_senders", mode="before")
    @classmethod
    def _split_and_lowercase(cls, values: str | list[str]) -> list[str]:
        """Accept a comma-separated string (env) or a list; compare addresses case-insensitively."""
        if isinstance(values, str):
            values = values.split(",")
        return [value.strip().lower() for value in values if value.strip()]

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'contentmind.db').resolve()}"


def normalize_database_url(url: str) -> str:
    """Map plain driver URLs to the async drivers the app uses."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url
