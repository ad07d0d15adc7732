"""One settings object, read once per entry point (CLI command, worker, SMTP server) and
passed down."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


class SenderPolicy(StrEnum):
    """How an email sender is mapped to a tenant."""

    AUTO = "auto"  # any sender; the tenant is the sender's domain (created on first mail)
    ALLOWLIST = "allowlist"  # only addresses/domains in allowed_senders


class ImapSecurity(StrEnum):
    TLS = "tls"  # implicit TLS (port 993)
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 143)
    PLAIN = "plain"  # no encryption: only for a server on this machine or in tests


class ImapAccount(BaseModel):
    """One mailbox the IMAP poller reads (see README, "IMAP ingest")."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None  # label in logs and events, and the key of its records
    host: str
    port: int | None = None  # default: 993 for tls, 143 otherwise
    security: ImapSecurity = ImapSecurity.TLS
    tls_ca_file: Path | None = None  # a private CA or self-signed certificate to trust
    username: str
    password: SecretStr
    folder: str = "INBOX"
    after_success: str = "seen"  # seen | keyword:<name> | move:<folder>
    on_error: str = "move:ContentMind/Errors"  # move:<folder> (created if missing) | keyword:<name>
    use_idle: bool = True  # IDLE when the server offers it, else poll
    poll_interval_s: float = 60.0
    idle_timeout_s: float = 300.0  # IDLE is re-issued this often (servers drop it at ~30 min)
    timeout_s: float = 30.0  # per command (a body download: per chunk received)
    reconnect_backoff_s: float = 1.0  # after a disconnect; doubles per failure
    reconnect_backoff_max_s: float = 60.0
    auth_retry_s: float = 600.0  # after a refused login or a configuration error
    max_message_bytes: int | None = None  # default: smtp_max_message_bytes, the same rule
    sender_policy: SenderPolicy | None = None  # default: the global sender_policy
    allowed_senders: list[str] | None = None  # default: the global allowed_senders

    @field_validator("after_success")
    @classmethod
    def _success_action(cls, value: str) -> str:
        return _mailbox_action(value, allowed=("seen", "keyword", "move"))

    @field_validator("on_error")
    @classmethod
    def _error_action(cls, value: str) -> str:
        return _mailbox_action(value, allowed=("keyword", "move"))

    @field_validator("tls_ca_file")
    @classmethod
    def _ca_file_readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @property
    def label(self) -> str:
        return self.name or f"{self.username}@{self.host}"

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security is ImapSecurity.TLS else 143)


_KEYWORD_FORBIDDEN = set(' (){%*"\\]')


def _mailbox_action(value: str, *, allowed: tuple[str, ...]) -> str:
    """Validate `seen`, `keyword:<atom>` or `move:<folder>`."""
    kind, sep, target = value.strip().partition(":")
    kind = kind.lower()
    if kind not in allowed or (kind == "seen") == bool(sep):
        raise ValueError(f"expected one of {', '.join(allowed)} (keyword:<name>, move:<folder>)")
    if kind == "keyword" and (not target or _KEYWORD_FORBIDDEN & set(target)):
        raise ValueError("a keyword is one word without spaces, parentheses or quotes")
    if kind == "move" and not target.strip():
        raise ValueError("move: needs a folder name")
    return f"{kind}:{target}" if sep else kind


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
    imap_accounts: Annotated[list[ImapAccount], NoDecode] = Field(
        default_factory=list
    )  # a JSON list in the environment; empty: none

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
    worker_poll_delay_s: float = 0.02  # how often an idle worker asks Redis for jobs
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

    # Slack bot (issue 3): Socket Mode when slack_app_token is set, else HTTP at /slack/events
    slack_bot_token: SecretStr | None = None  # xoxb-…
    slack_signing_secret: SecretStr | None = None  # verifies HTTP requests (401 otherwise)
    slack_app_token: SecretStr | None = None  # xapp-…: Socket Mode, no public URL needed
    slack_api_base_url: str = "https://slack.com/api/"  # HTTP mode listens on api_host:api_port
    # a file_shared event waits this long for the upload's message event (which has the thread)
    slack_file_shared_delay_s: float = Field(default=3.0, ge=0, le=60)

    # daily digests (issue 4) and the HTTP API that serves their unsubscribe links
    digest_cron_minutes: int = 5  # how often the scheduler looks for users whose time has come
    digest_catch_up_hours: float = 12.0  # a slot missed (workers down) is still sent this late
    digest_send_empty: bool = False  # a short "nothing new" note instead of no digest
    digest_lookback_days: int = 7  # items older than this never enter a digest (also the first)
    digest_group_by: str = "topic"  # topic | source
    digest_max_items: int = 30  # shown per digest; the rest are counted as "and N more"
    digest_max_tries: int = 5
    digest_retry_backoff_s: float = 60.0  # grows per try; a Retry-After from Slack wins
    digest_unsubscribe_mailto: str | None = None  # an address that handles unsubscribe mail
    secret_key: SecretStr | None = None  # signs links; unset: generated once in the data dir
    # where people reach the API: the base of links in mail and Slack; unset: the API's own
    # address (api_host:api_port, 127.0.0.1 for a wildcard host)
    public_base_url: str = "http://127.0.0.1:8080"
    api_host: str = "127.0.0.1"
    api_port: int = 8080

    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"

    @field_validator("ingest_addresses", "allowed_senders", mode="before")
    @classmethod
    def _split_and_lowercase(cls, values: str | list[str]) -> list[str]:
        """Accept a comma-separated string (env) or a list; compare addresses case-insensitively."""
        if isinstance(values, str):
            values = values.split(",")
        return [value.strip().lower() for value in values if value.strip()]

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        """An empty variable (as compose files pass them) means not set."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def slack_configured(self) -> bool:
        """A bot token plus a way to receive events (an app token or a signing secret)."""
        return self.slack_bot_token is not None and (
            self.slack_app_token is not None or self.slack_signing_secret is not None
        )

    @model_validator(mode="after")
    def _links_follow_the_api(self) -> Settings:
        if "public_base_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
            host = f"[{host}]" if ":" in host else host
            self.public_base_url = f"http://{host}:{self.api_port}"
        return self

    @field_validator("imap_accounts", mode="before")
    @classmethod
    def _imap_accounts_json(cls, value: object) -> object:
        """CONTENTMIND_IMAP_ACCOUNTS='[{"host": …}, …]'; an empty value means no accounts."""
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as error:  # the value holds passwords: never echo it
                raise ValueError(
                    f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
                ) from None
        return value

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


def describe_settings_error(error: Exception) -> str:
    """Settings that failed to load, in plain words, without the values given (they may hold
    passwords and tokens): one line per problem, named by its environment variable."""
    if not isinstance(error, ValidationError):
        return f"Invalid settings: {error}"
    lines = ["Invalid settings:"]
    for problem in error.errors(include_input=False, include_url=False, include_context=False):
        where = [str(part) for part in problem["loc"]]
        if where:
            field = where[0]
            where[0] = field.upper() if field in _UNPREFIXED else f"CONTENTMIND_{field.upper()}"
        lines.append(f"  {'.'.join(where) or 'settings'}: {problem['msg']}")
    return "\n".join(lines)


_UNPREFIXED = {"database_url", "redis_url"}
