"""Settings: a TOML file (plus environment) validated once at start into one object."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor import CONFIG_ENV, DEFAULT_CONFIG
from monitor.errors import ConfigError, InputError
from monitor.files import read_text
from monitor.redact import redact

# Overrides [storage] url, so a database password need not sit in the config file.
DATABASE_ENV = "OIC_MONITOR_DATABASE_URL"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """'10s', '15m', '2h', '1d' (or a number of seconds) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"bad duration {value!r}: use a number and a unit, like 10s, 15m, 2h, 1d")
    if seconds <= 0:
        raise ValueError(f"bad duration {value!r}: must be greater than zero")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _http_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad URL {redact(value)!r}: need an http:// or https:// URL with a host")
    return value.strip()


HttpUrl = Annotated[str, BeforeValidator(_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Strict):
    url: str = "sqlite:///storage/monitor.db"
    archive_dir: Path = Path("storage/archive")


class FetchSettings(_Strict):
    user_agent: str = "oic-monitor/{version} (+{contact})"
    contact: str = "https://github.com/oic-monitor/oic-monitor"
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=30)
    max_redirects: int = Field(default=5, ge=0, le=30)
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    per_host_concurrency: int = Field(default=2, ge=1, le=16)
    per_host_delay: Duration = timedelta(seconds=1)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: Duration = timedelta(seconds=1)
    max_retry_after: Duration = timedelta(minutes=10)
    obey_robots: bool = True  # robots.txt rules and its Crawl-delay
    robots_ttl: Duration = timedelta(hours=1)  # when robots.txt says nothing about caching
    robots_error_ttl: Duration = timedelta(minutes=5)  # robots.txt 5xx or unreachable
    max_crawl_delay: Duration = timedelta(seconds=30)  # a longer Crawl-delay is cut to this
    block_private_addresses: bool = False


class DeliverySettings(_Strict):
    """How the alert outbox retries: exponential backoff with jitter, up to max_age."""

    base_delay: Duration = timedelta(seconds=30)
    max_delay: Duration = timedelta(hours=1)
    max_age: Duration = timedelta(hours=48)
    lease: Duration = timedelta(minutes=5)  # a claimed alert is retried after this if unsent
    every: Duration = timedelta(seconds=5)  # how often the daemon looks for due alerts
    timeout: Duration = timedelta(seconds=30)
    # A failing channel is tried with one queued alert at least this often, whatever the
    # alerts' own backoff; when one gets through, all the channel's queued alerts are due.
    probe_every: Duration = timedelta(seconds=30)


class StorySettings(_Strict):
    # Estimated shingle Jaccard above which a new item joins a stored item's story.
    similarity: float = Field(default=0.5, gt=0.0, le=1.0)


ANALYST_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# The analyst of the shared token (and of a dashboard without any); no user may take it.
SHARED_ANALYST = "shared"


class WebUser(_Strict):
    """A named analyst: marks, read state, stars and saved searches are theirs."""

    name: str = Field(pattern=ANALYST_NAME, max_length=100)
    token_env: str  # the environment variable holding this analyst's token

    @field_validator("name")
    @classmethod
    def _not_shared(cls, v: str) -> str:
        if v == SHARED_ANALYST:
            raise ValueError(f"{SHARED_ANALYST!r} names the shared token's analyst: pick another")
        return v


class WebSettings(_Strict):
    """`serve` and `run --http`: where the dashboard listens and where its tokens come from."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    token_env: str | None = None  # the shared token; a token is required beyond loopback
    users: list[WebUser] = Field(default_factory=list)
    page_size: int = Field(default=50, ge=1, le=500)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client; any
    # other peer is itself the client, whatever headers it sends.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network such as 127.0.0.1 or 10.0.0.0/8"
                ) from None
        return v

    @field_validator("users")
    @classmethod
    def _unique_users(cls, v: list[WebUser]) -> list[WebUser]:
        names = [u.name for u in v]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two users are both named {name!r}")
        return v

    def resolved_token(self) -> str | None:
        if not self.token_env:
            return None
        return os.environ.get(self.token_env) or None


class Source(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: HttpUrl
    kind: Literal["feed", "sitemap", "html"] = "feed"
    interval: Duration = timedelta(minutes=15)
    language: str | None = None
    link_pattern: str | None = None
    page_pattern: str | None = None
    enabled: bool = True
    expect_within: Duration | None = None
    max_items_per_poll: int = Field(default=100, ge=1)  # newest first; the rest wait
    # Adaptive interval: with both bounds set, the daemon polls busy sources more often
    # and quiet ones less, and never less often than a third of the feed's window.
    min_interval: Duration | None = None
    max_interval: Duration | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Source:
        if (self.min_interval is None) != (self.max_interval is None):
            raise ValueError("set both min_interval and max_interval, or neither")
        if (
            self.min_interval
            and self.max_interval
            and not (self.min_interval <= self.interval <= self.max_interval)
        ):
            raise ValueError("need min_interval <= interval <= max_interval")
        return self

    @property
    def adaptive(self) -> bool:
        return self.min_interval is not None

    tags: list[str] = Field(default_factory=list)

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"bad regular expression {v!r}: {e}") from None
        return v


_ENV_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\$))")


def expand_env(value: str) -> str:
    """Replace $NAME and ${NAME} with environment values ("$$" is a literal "$").

    Raises ValueError naming the first variable that is not set; never the value.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(3):
            return "$"
        name = m.group(1) or m.group(2)
        found = os.environ.get(name)
        if found is None:
            raise ValueError(f"environment variable {name} is not set")
        return found

    return _ENV_REF.sub(sub, value)


def url_scheme(value: str) -> str:
    """The scheme of an Apprise URL ("tgram"), the only part of it fit to show."""
    scheme, sep, _ = value.partition("://")
    return scheme.strip().lower() if sep else "?"


def _apprise_url(value: object) -> str:
    # Expanded and checked here so that an error only ever shows the unexpanded template.
    if not isinstance(value, str) or "://" not in value:
        raise ValueError("must be an Apprise URL such as tgram://TOKEN/CHAT")
    url = expand_env(value.strip())
    from monitor.alerts.apprise_channel import known_url

    if not known_url(url):
        raise ValueError(f"Apprise cannot use this {url_scheme(value)}:// URL (see its docs)")
    return url


AppriseUrl = Annotated[str, BeforeValidator(_apprise_url)]


class AlertChannel(_Strict):
    name: str | None = None
    kind: Literal["webhook", "email", "apprise"]
    # apprise: secrets are written as $NAME and expanded at load; never shown
    urls: list[AppriseUrl] = Field(default_factory=list, repr=False)
    # webhook
    url: HttpUrl | None = None
    secret: str | None = Field(default=None, repr=False)
    secret_env: str | None = None
    format: Literal["json", "slack"] = "json"
    # email
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    subject_tag: str = "[OIC]"
    # any kind: one message per story, or one per digest_every listing the period's stories
    mode: Literal["instant", "digest"] = "instant"
    digest_every: Duration = timedelta(hours=24)
    # routing
    min_tier: Literal["relevant", "mention", "none"] = "relevant"
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    languages: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    stories: bool = True  # receives story alerts
    operator: bool = False  # receives operator alerts (failing or silent sources)

    @model_validator(mode="after")
    def _complete(self) -> AlertChannel:
        if self.kind == "webhook" and not self.url:
            raise ValueError("a webhook channel needs url")
        if self.kind == "email" and (not self.smtp_host or not self.to or not self.sender):
            raise ValueError("an email channel needs smtp_host, sender and to")
        if self.kind == "apprise" and not self.urls:
            raise ValueError("an apprise channel needs urls")
        return self

    @property
    def label(self) -> str:
        """The channel's name in the outbox and logs; never the URL, which may hold a token."""
        if self.name:
            return self.name
        if self.kind == "webhook":
            return f"webhook:{urlsplit(self.url or '').hostname}"
        if self.kind == "apprise":
            return "apprise:" + ",".join(dict.fromkeys(url_scheme(u) for u in self.urls))
        return f"email:{','.join(self.to)}"

    def resolved_secret(self) -> str | None:
        if self.secret_env:
            return os.environ.get(self.secret_env)
        return self.secret


class Settings(_Strict):
    storage: StorageSettings = StorageSettings()
    fetch: FetchSettings = FetchSettings()
    stories: StorySettings = StorySettings()
    web: WebSettings = WebSettings()
    delivery: DeliverySettings = DeliverySettings()
    alert_window: Duration = timedelta(hours=48)
    failures_before_alert: int = Field(default=5, ge=1)  # failed polls in a row
    catchup_every: Duration = timedelta(minutes=5)  # how often open gaps are worked on
    lexicon: Path | None = None
    sources: list[Source] = Field(default_factory=list)
    alerts: list[AlertChannel] = Field(default_factory=list)
    config_path: Path | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for i, s in enumerate(self.sources):
            if s.name in seen:
                key = f"sources[{i}] ({s.name}).name"
                raise _KeyedError(key, f"duplicate source name {s.name!r}")
            seen.add(s.name)
        labels: set[str] = set()
        for i, ch in enumerate(self.alerts):
            if ch.label in labels:
                raise _KeyedError(
                    f"alerts[{i}].name", f"two channels are both {ch.label!r}: name them apart"
                )
            labels.add(ch.label)
        return self

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r} in {self.config_path}")


class _KeyedError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _key_path(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Turn a pydantic location into 'sources[2] (mfa-kz).interval'."""
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            listed = node[part] if isinstance(node, list) and part < len(node) else None
            name = listed.get("name") if isinstance(listed, dict) else None
            out += f"[{part}]" + (f" ({name})" if isinstance(name, str) else "")
        else:
            out += ("." if out else "") + str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _resolve(base: Path, settings: dict[str, Any]) -> None:
    storage = settings.setdefault("storage", {})
    url = storage.get("url", StorageSettings().url)
    if isinstance(url, str) and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///") :]
        if rel and rel != ":memory:":
            storage["url"] = "sqlite:///" + str((base / rel).resolve())
    archive = storage.get("archive_dir", str(StorageSettings().archive_dir))
    storage["archive_dir"] = str((base / Path(archive)).resolve())
    if isinstance(settings.get("lexicon"), str):
        settings["lexicon"] = str((base / settings["lexicon"]).resolve())


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file; raise ConfigError naming file and key."""
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    return settings_from_dict(read_toml(path), path)


def read_toml(path: Path) -> dict[str, Any]:
    """The config file's tables; ConfigError when it is missing, unreadable or not TOML."""
    text = config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def config_text(path: Path) -> str:
    """The config file's text, in whatever encoding it was saved; ConfigError when it is
    missing or not text."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        return read_text(path)
    except InputError as e:
        raise ConfigError(str(e)) from None


def settings_from_dict(raw: dict[str, Any], path: Path) -> Settings:
    data = dict(raw)
    if os.environ.get(DATABASE_ENV):
        data["storage"] = {**data.get("storage", {}), "url": os.environ[DATABASE_ENV]}
    _resolve(path.resolve().parent, data)
    data["config_path"] = str(path)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _KeyedError):
                lines.append(f"{path}: {ctx_err.key}: {ctx_err}")
                continue
            key = _key_path(tuple(err["loc"]), raw)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(lines)) from None
