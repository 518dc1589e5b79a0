"""Configuration: a TOML file declaring communities (SPEC.md), plus ``FOLKMOOT_*``
environment variables. Secrets come from the environment or files, never the repo,
and are never logged."""

from __future__ import annotations

import difflib
import tomllib
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from governance.domain.errors import GovernanceError
from governance.domain.federation import check_federations
from governance.domain.policy import Policy
from governance.domain.prompts import MAX_QUESTION, OutcomeDelay
from governance.domain.proposal import check_text
from governance.text.grammar import parse_classes, parse_deadline, parse_length, parse_quorum

DEFAULT_CONFIG_NAME = "folkmoot.toml"
T = TypeVar("T")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class CommunityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    timezone: str = "UTC"
    admins: list[str] = []
    """Platform account ids, written ``platform:id`` (``matrix:@ana:example.org``)."""
    default_vote: str = "7d"
    quorum: str | None = None
    reminders: list[str] = ["24h", "1h"]
    bridge_patterns: list[str] = []
    max_vote: str = "90d"
    """The longest a vote, deliberation or extension may run (``120d``, ``36h``)."""
    weights: dict[str, int | str] = {}
    """Stakeholder-class weights in percent, adding up to 100: ``{workers = 40, …}``."""
    class_quorum: dict[str, int | str] = {}
    """A quorum per class: a share of its members (``"50%"``) or a count (``3``)."""
    welcome_prompt: str | None = None
    """The built-in welcome prompt, asked privately of each new member (``"What
    brought you here?"``); absent: off."""
    outcome_prompt_after: str | None = None
    """Post an outcome prompt ("what changed?") this long after each vote closes
    (``"3w"``, ``"10d"``); absent: off."""
    members: list[str] = []
    """Set on a federation: its member communities (declared here too), whose results
    are its votes (``members = ["bakery", "dairy"]``)."""
    member_weights: Literal["equal", "members"] = "equal"
    """A federation's member communities weigh the same (``equal``), or each its number
    of voters when the federation's vote opened (``members``)."""

    def weights_text(self) -> str | None:
        return _items(self.weights)

    def class_quorum_text(self) -> str | None:
        return _items(self.class_quorum)

    @model_validator(mode="after")
    def _classes(self) -> CommunityConfig:
        _check(
            lambda: Policy(
                classes=parse_classes(
                    "config", self.weights_text() or "", self.class_quorum_text() or ""
                )
            )
        )
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    @field_validator("default_vote")
    @classmethod
    def _vote(cls, value: str) -> str:
        _check(lambda: parse_deadline("config", "default_vote", value))
        return value

    @field_validator("max_vote")
    @classmethod
    def _max_vote(cls, value: str) -> str:
        _check(lambda: parse_length("config", "max_vote", value))
        return value

    @field_validator("quorum")
    @classmethod
    def _quorum(cls, value: str | None) -> str | None:
        if value is not None:
            _check(lambda: parse_quorum("config", "quorum", value))
        return value

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, value: list[str]) -> list[str]:
        for item in value:
            _check(lambda item=item: parse_length("config", "reminders", item))
        return value

    @field_validator("welcome_prompt")
    @classmethod
    def _welcome(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _checked(lambda: check_text("welcome_prompt", value, MAX_QUESTION))

    @field_validator("outcome_prompt_after")
    @classmethod
    def _outcome_after(cls, value: str | None) -> str | None:
        if value is not None:
            _check(lambda: OutcomeDelay.parse(value))
        return value

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        for item in value:
            platform, sep, account = item.partition(":")
            if not sep or not platform or not account:
                raise ValueError(f"admin {item!r} must be written platform:id")
        return value


def _items(mapping: dict[str, int | str]) -> str | None:
    """``{workers = 40}`` as ``weights=`` reads it: ``workers:40``."""
    return " ".join(f"{name}:{value}" for name, value in mapping.items()) or None


def _check(parse: Any) -> None:
    _checked(parse)


def _checked(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except GovernanceError as error:
        raise ValueError(error.message) from None


class RecordConfig(BaseModel):
    """The recording adapter: every announcement appended to a JSON Lines file."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    rooms: list[str] = []
    """Rooms to bind at start, written ``community=room`` (the adapter's platform is
    ``record``)."""


class MatrixConfig(BaseModel):
    """The Matrix adapter. The password or access token comes from the environment
    (``FOLKMOOT_MATRIX_PASSWORD`` / ``FOLKMOOT_MATRIX_TOKEN``, or ``…_FILE`` naming a
    file that holds it), never from this file."""

    model_config = ConfigDict(extra="forbid")

    homeserver: str = Field(pattern=r"^https?://")
    user_id: str = Field(pattern=r"^@[^:]+:.+$")
    device_name: str = "folkmoot"
    invite_from: list[str] = []
    """Who may invite the bot into a room: user ids or servers (``":example.org"``)."""
    power_levels: dict[str, int] = {}
    """The room power level from which a new member is a moderator or an admin:
    ``{ moderator = 50, admin = 100 }``."""

    @field_validator("power_levels")
    @classmethod
    def _roles(cls, value: dict[str, int]) -> dict[str, int]:
        for word in value:
            if word not in ("observer", "member", "moderator", "admin"):
                raise ValueError(
                    f"power_levels: {word!r} is not a role (observer, member, moderator, admin)"
                )
        return value


class DiscordConfig(BaseModel):
    """The Discord adapter. Its token comes from ``FOLKMOOT_DISCORD_TOKEN`` (or
    ``FOLKMOOT_DISCORD_TOKEN_FILE``), never from this file."""

    model_config = ConfigDict(extra="forbid")

    guilds: list[int] = []
    """Guilds whose slash commands are synced at start."""
    roles: dict[str, str] = {}
    """Discord role name → folkmoot role (``{ Stewards = "moderator" }``)."""
    classes: dict[str, str] = {}
    """Discord role name → stakeholder class (``{ Workers = "workers" }``)."""
    message_content: bool = False
    """Ask for the privileged message-content intent: ``!`` text commands in channels."""
    server_admins: bool = True
    """A server's owner and members who may manage it (Manage Server) are admins of the
    community bound to its channels."""
    api_base: str | None = Field(default=None, pattern=r"^https?://")
    """Another REST base than Discord's (tests, Discord-compatible servers)."""
    gateway: str | None = Field(default=None, pattern=r"^wss?://")
    shard_count: StrictInt | None = None
    """How many shards the bot runs in all, over every process; unset: as many as
    Discord recommends (and this process runs them all)."""
    shard_ids: list[StrictInt] | None = None
    """The shards this process runs, each from 0 to ``shard_count - 1``; unset: all of
    them. Processes splitting the guilds list disjoint ids of one ``shard_count``."""

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        for name, word in value.items():
            if word not in ("observer", "member", "moderator", "admin"):
                raise ValueError(f"roles: {name} = {word!r} is not a folkmoot role")
        return value

    @field_validator("classes")
    @classmethod
    def _classes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, word in value.items():
            if not word.strip() or len(word) > 40 or word.strip().lower() == "none":
                raise ValueError(
                    f"classes: {name} = {word!r} is not a class name (1 to 40 characters)"
                )
        return value

    @model_validator(mode="after")
    def _shards(self) -> DiscordConfig:
        count, ids = self.shard_count, self.shard_ids
        if count is not None and count < 1:
            raise ValueError(f"shard_count = {count}: a bot runs at least 1 shard")
        if ids is None:
            return self
        if count is None:
            raise ValueError(
                "shard_ids needs shard_count: how many shards the bot runs in all, "
                "over every process"
            )
        if not ids:
            raise ValueError("shard_ids = []: list this process's shards, or leave it out for all")
        for shard in ids:
            if not 0 <= shard < count:
                raise ValueError(
                    f"shard_ids: {shard} is not a shard of shard_count = {count} "
                    f"(they are 0 to {count - 1})"
                )
        twice = sorted({shard for shard in ids if ids.count(shard) > 1})
        if twice:
            raise ValueError(f"shard_ids: {', '.join(map(str, twice))} listed more than once")
        # In order: the shard set names the lease, so [1, 0] and [0, 1] must be one set.
        self.shard_ids = sorted(ids)
        return self


class HttpConfig(BaseModel):
    """``/healthz`` and ``/metrics`` (bot.health); ``FOLKMOOT_HTTP_PORT`` / ``_HOST`` win."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(ge=0, le=65535)
    host: str = "127.0.0.1"
    outbox_max_age: float = Field(default=300.0, gt=0)
    """Seconds an announcement may wait for delivery before /healthz says degraded."""


class LogConfig(BaseModel):
    """``FOLKMOOT_LOG_LEVEL`` / ``FOLKMOOT_LOG_FORMAT`` win over these."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"] = (
        "INFO"
    )
    format: Literal["json", "text"] = "json"


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    communities: list[CommunityConfig] = []
    record: RecordConfig | None = None
    matrix: MatrixConfig | None = None
    discord: DiscordConfig | None = None
    http: HttpConfig | None = None
    log: LogConfig | None = None

    @model_validator(mode="after")
    def _federations(self) -> FileConfig:
        check_federations(
            {c.name: c.members for c in self.communities if c.members},
            [c.name for c in self.communities],
        )
        return self


class Settings(BaseSettings):
    """Environment: ``FOLKMOOT_DATABASE_URL``, ``FOLKMOOT_DATA_DIR``, ``FOLKMOOT_CONFIG`` …"""

    model_config = SettingsConfigDict(env_prefix="FOLKMOOT_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    """An SQLAlchemy URL; unset means SQLite in the data directory."""
    database_url_file: Path | None = None
    """A file holding that URL, for one with a password in it (``FOLKMOOT_DATABASE_URL``
    wins when both are set)."""
    config: Path | None = None
    sqlite_synchronous: str = "NORMAL"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    """``folkmoot run``'s log lines: JSON, one object a line (bot.logs), or text."""
    http_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve ``/healthz`` and ``/metrics`` on this port (bot.health); unset: off."""
    http_host: str | None = None
    health_outbox_max_age_seconds: float | None = Field(default=None, gt=0)
    """/healthz says degraded once an announcement has waited this long for delivery
    (``[http] outbox_max_age``; 300 s when neither is set)."""
    lease_retry_seconds: float = Field(default=5.0, gt=0)
    """How often an instance that does not hold a platform's lease tries for it, and
    how often the holder checks it still does (several instances on one database)."""
    due_poll_seconds: float = Field(default=30.0, gt=0)
    """How often the next due instant is read again, for due work another instance
    scheduled (and would have woken itself for, had it not stopped)."""
    clock_sync_seconds: float = Field(default=30.0, gt=0)
    """How often the database's clock is read again (PostgreSQL; see DatabaseClock)."""
    prune_every_seconds: float = Field(default=3600.0, gt=0)
    """How often delivered announcements and old handled-event ids are pruned
    (governance.service.retention); the first run is at start."""
    retention_days: float = Field(default=30.0, gt=0)
    """How long delivered announcements and handled-event ids are kept. The decision
    log, dead letters and anything undelivered are kept regardless."""
    matrix_password: SecretStr | None = None
    matrix_password_file: Path | None = None
    matrix_token: SecretStr | None = None
    matrix_token_file: Path | None = None
    discord_token: SecretStr | None = None
    discord_token_file: Path | None = None

    def secret(self, name: str) -> str | None:
        """``matrix_password``: from its variable, or from the file its ``_FILE`` names."""
        value = getattr(self, name)
        if value is not None:
            return str(value.get_secret_value())
        path = getattr(self, f"{name}_file")
        if path is None:
            return None
        try:
            return str(path.read_text(encoding="utf-8").strip())
        except OSError as error:
            raise ConfigError(
                f"FOLKMOOT_{name.upper()}_FILE: cannot read {path} ({error.strerror})"
            ) from None

    def secret_values(self) -> list[str]:
        """Every secret this process knows, for the logs to redact."""
        values = []
        for name in ("matrix_password", "matrix_token", "discord_token"):
            try:
                value = self.secret(name)
            except ConfigError:
                continue
            if value:
                values.append(value)
        try:
            password = make_url(self.db_url()).password
        except (ConfigError, ArgumentError):
            password = None
        if password:
            values.append(str(password))
        return values

    def log_settings(self, config: FileConfig) -> tuple[str, Literal["json", "text"]]:
        """(level, format): the environment's, else the file's ``[log]``, else defaults."""
        file = config.log or LogConfig()
        level = self.log_level if "log_level" in self.model_fields_set else file.level
        fmt = self.log_format if "log_format" in self.model_fields_set else file.format
        return level.upper(), fmt

    def http_address(self, config: FileConfig) -> tuple[str, int] | None:
        """Where to serve ``/healthz`` and ``/metrics``, or None when off."""
        port = self.http_port
        if port is None and config.http is not None:
            port = config.http.port
        if port is None:
            return None
        host = self.http_host or (config.http.host if config.http else "127.0.0.1")
        return host, port

    def outbox_max_age(self, config: FileConfig) -> float:
        """Seconds an announcement may wait for delivery before /healthz says degraded."""
        if self.health_outbox_max_age_seconds is not None:
            return self.health_outbox_max_age_seconds
        return (config.http or HttpConfig(port=0)).outbox_max_age

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.database_url_file is not None:
            try:
                url = self.database_url_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ConfigError(
                    f"FOLKMOOT_DATABASE_URL_FILE: cannot read {self.database_url_file} "
                    f"({error.strerror})"
                ) from None
            if url:
                return url
            raise ConfigError(f"FOLKMOOT_DATABASE_URL_FILE: {self.database_url_file} is empty")
        return f"sqlite:///{(self.data_dir / 'folkmoot.db').resolve()}"

    def config_path(self) -> Path | None:
        if self.config is not None:
            return self.config
        default = Path(DEFAULT_CONFIG_NAME)
        return default if default.exists() else None


def load_file_config(path: Path | None) -> FileConfig:
    if path is None:
        return FileConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (FOLKMOOT_CONFIG)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    try:
        config = FileConfig.model_validate(data)
    except ValidationError as error:
        unknown = unknown_keys(error)
        if unknown:
            raise ConfigError(f"config file {path}: {'; '.join(unknown)}") from None
        raise ConfigError(f"config file {path}: {error}") from None
    except ValueError as error:
        raise ConfigError(f"config file {path}: {error}") from None
    names = [c.name for c in config.communities]
    if len(names) != len(set(names)):
        raise ConfigError(f"config file {path}: a community is declared twice")
    return config


def unknown_keys(error: ValidationError) -> list[str]:
    """Each key the file has and no model knows, named with the closest known key:
    ``unknown key communities[0].timezon (did you mean timezone?)``."""
    found = []
    for item in error.errors():
        if item["type"] != "extra_forbidden":
            continue
        loc = item["loc"]
        where = _dotted(loc)
        known = _known_keys(FileConfig, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(known)})"
        found.append(f"unknown key {where}{hint}")
    return found


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The fields of the model found by following ``loc`` down from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: the list's model is already current
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    """``CommunityConfig`` from ``list[CommunityConfig]`` or ``MatrixConfig | None``."""
    if _is_model(annotation):
        return annotation
    if get_origin(annotation) in (list, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
