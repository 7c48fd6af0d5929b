"""Settings read from the environment (and `.env`), exactly as docs/contract.md section 2."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: config/ and instance/ live here."""

DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"
"""Flask session key used only when HOTLINE_ENV=development."""

DEV_DATA_KEY = "ZGV2LW9ubHktZGF0YS1rZXktbm90LWZvci1wcm9kISE="
"""Fernet key (32 bytes, URL-safe base64) used only when HOTLINE_ENV=development."""


DEV_ONLY = "dev-only-"
"""How development values begin (the keys above, and the directory's secrets `make run` fills in:
devserver.development_secrets); production refuses any environment value that begins so."""


class SettingsError(Exception):
    """The environment does not describe a deployment that may start."""


@dataclass
class Settings:
    """Every setting of the line; build with `Settings.from_env()`."""

    env: str = "development"
    database_url: str = ""
    redis_url: str = "redis://localhost:6379/0"
    secret_key: str = DEV_SECRET_KEY
    data_key: str = DEV_DATA_KEY
    directory_path: str = str(ROOT / "config" / "directory.yaml")
    public_base_url: str | None = None
    sms_providers: tuple[str, ...] = ("console",)
    """SMS_PROVIDERS: the outbound routes in order of preference (SMS_PROVIDER, one name, is still read)."""
    providers: dict = field(default_factory=dict)
    """Each provider's own settings (hotline.channels reads them, each module its own prefix)."""
    # Extensions beyond docs/contract.md section 2 (documented in the README).
    rate_limit_per_minute: int = 20
    sms_idle_minutes: int = 30
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "hotline@localhost"
    smtp_starttls: bool = True
    retry_intervals: tuple[int, ...] = (10, 60, 300, 900, 3600)
    sweep_seconds: int = 30
    sweep_grace_seconds: int = 60
    claim_seconds: int = 90
    provider_timeout: int = 10
    retention_days: int = 180
    open_retention_days: int = 365
    proxy_hops: int = 0
    unrouted_alert_seconds: int = 300
    timezone: str = "Asia/Phnom_Penh"
    """HOTLINE_TIMEZONE: the zone people read times in (console, CSV); stored times stay UTC."""
    voice_dir: str = str(ROOT / "config" / "voice")
    """HOTLINE_VOICE_DIR: how calls speak each language, and the recorded clips (hotline.voice.catalogue)."""
    voice_idle_seconds: int = 20
    """HOTLINE_VOICE_IDLE_SECONDS: a call silent this long (prompts nobody answered) is ended politely."""
    voice_recording_pin: str | None = None
    """HOTLINE_VOICE_RECORDING_PIN: the staff recording call's PIN; unset, the recording line is closed."""
    voice_callback_minutes: int = 30
    """HOTLINE_VOICE_CALLBACK_MINUTES: the longest a caseworker's masked call to a reporter may last."""
    extra: dict = field(default_factory=dict)

    @property
    def production(self) -> bool:
        """True when running for real people."""
        return self.env == "production"

    def provider(self, slug: str):
        """A provider's own settings (hotline.channels.base.ProviderConfig)."""
        if not self.providers:
            from hotline import channels

            self.providers = channels.read_configs({}, self.production)
        return self.providers[slug]

    @classmethod
    def from_env(cls, environ: dict | None = None, dotenv: bool = True) -> "Settings":
        """Read settings from `environ` (default os.environ, after loading `.env`)."""
        if environ is None:
            if dotenv:
                load_dotenv(ROOT / ".env", override=False)
            environ = dict(os.environ)
        get = lambda name: (environ.get(name) or "").strip() or None  # noqa: E731
        env = get("HOTLINE_ENV") or "development"
        if env not in ("development", "production"):
            raise SettingsError(f"HOTLINE_ENV must be development or production, not {env!r}")
        s = cls(env=env)
        s.database_url = get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'hotline.db'}"
        s.redis_url = get("REDIS_URL") or s.redis_url
        s.directory_path = get("HOTLINE_DIRECTORY") or s.directory_path
        s.public_base_url = (get("PUBLIC_BASE_URL") or "").rstrip("/") or None
        s.rate_limit_per_minute = _int(get("HOTLINE_RATE_LIMIT_PER_MINUTE"), 20, "HOTLINE_RATE_LIMIT_PER_MINUTE")
        s.sms_idle_minutes = _int(get("HOTLINE_SMS_IDLE_MINUTES"), 30, "HOTLINE_SMS_IDLE_MINUTES")
        s.smtp_host, s.smtp_username, s.smtp_password = get("SMTP_HOST"), get("SMTP_USERNAME"), get("SMTP_PASSWORD")
        s.smtp_port = _int(get("SMTP_PORT"), 587, "SMTP_PORT")
        s.smtp_from = get("SMTP_FROM") or s.smtp_from
        s.smtp_starttls = (get("SMTP_STARTTLS") or "true").lower() not in ("0", "false", "no")
        s.retry_intervals = _intervals(get("HOTLINE_RETRY_INTERVALS"), s.retry_intervals)
        s.sweep_seconds = _int(get("HOTLINE_SWEEP_SECONDS"), 30, "HOTLINE_SWEEP_SECONDS")
        s.sweep_grace_seconds = _int(get("HOTLINE_SWEEP_GRACE_SECONDS"), 60, "HOTLINE_SWEEP_GRACE_SECONDS")
        s.claim_seconds = _int(get("HOTLINE_CLAIM_SECONDS"), 90, "HOTLINE_CLAIM_SECONDS")
        s.provider_timeout = _int(get("HOTLINE_PROVIDER_TIMEOUT"), 10, "HOTLINE_PROVIDER_TIMEOUT")
        s.retention_days = _int(get("HOTLINE_RETENTION_DAYS"), 180, "HOTLINE_RETENTION_DAYS")
        s.open_retention_days = _int(get("HOTLINE_OPEN_RETENTION_DAYS"), 365, "HOTLINE_OPEN_RETENTION_DAYS")
        s.proxy_hops = _proxy_hops(get("HOTLINE_PROXY_HOPS"))
        s.unrouted_alert_seconds = _int(get("HOTLINE_UNROUTED_ALERT_SECONDS"), 300, "HOTLINE_UNROUTED_ALERT_SECONDS")
        s.timezone = _timezone(get("HOTLINE_TIMEZONE"), s.timezone)
        s.voice_dir = get("HOTLINE_VOICE_DIR") or s.voice_dir
        s.voice_idle_seconds = _int(get("HOTLINE_VOICE_IDLE_SECONDS"), 20, "HOTLINE_VOICE_IDLE_SECONDS")
        s.voice_callback_minutes = _int(get("HOTLINE_VOICE_CALLBACK_MINUTES"), 30, "HOTLINE_VOICE_CALLBACK_MINUTES")
        s.voice_recording_pin = _pin(get("HOTLINE_VOICE_RECORDING_PIN"), env == "production")
        secret, data_key = get("SECRET_KEY"), get("HOTLINE_DATA_KEY")
        if s.production:
            missing = [n for n, v in (("SECRET_KEY", secret), ("HOTLINE_DATA_KEY", data_key)) if not v]
            if missing:
                raise SettingsError(f"production needs {', '.join(missing)} set; refusing to start")
        s.secret_key = secret or DEV_SECRET_KEY
        s.data_key = data_key or DEV_DATA_KEY
        if s.production and (s.secret_key == DEV_SECRET_KEY or s.data_key == DEV_DATA_KEY):
            raise SettingsError("production must not use the development keys")
        if s.production and any(str(v).startswith(DEV_ONLY) for v in environ.values()):
            raise SettingsError("production must not use development values: "
                                + ", ".join(sorted(k for k, v in environ.items() if str(v).startswith(DEV_ONLY))))
        _check_data_key(s.data_key)
        _read_providers(s, environ, get)
        return s

    def as_dict(self) -> dict:
        """All settings by name (for app.config)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _read_providers(s: Settings, environ: dict, get) -> None:
    """Each provider's settings (its module reads its own prefix) and SMS_PROVIDERS, checked: known
    names that can send, and in production none that only stores (console) or lacks a setting."""
    from hotline import channels
    from hotline.channels.base import ProviderSettingsError

    try:
        s.providers = channels.read_configs(environ, s.production)
    except ProviderSettingsError as exc:
        raise SettingsError(str(exc)) from None
    listed = get("SMS_PROVIDERS") or get("SMS_PROVIDER") or "console"
    names = tuple(dict.fromkeys(n.strip().lower() for n in listed.split(",") if n.strip()))
    senders = [slug for slug, p in channels.PROVIDERS.items() if p.can_send]
    unknown = [n for n in names if n not in senders]
    if not names or unknown:
        raise SettingsError(f"SMS_PROVIDERS must name some of {', '.join(senders)}, not {listed!r}")
    s.sms_providers = names
    if s.production:
        if "console" in names:
            raise SettingsError("SMS_PROVIDERS: console only stores messages; name real providers in production")
        for name in names:
            missing = s.providers[name].missing()
            if missing:
                raise SettingsError(f"SMS_PROVIDERS names {name}, which needs {', '.join(missing)}")


def _int(raw: str | None, default: int, name: str) -> int:
    """Parse a positive integer setting or explain which one is wrong."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


MAX_PROXY_HOPS = 5
"""More trusted proxies than this in front of the line is surely a mistake."""


def _proxy_hops(raw: str | None) -> int:
    """HOTLINE_PROXY_HOPS: how many proxies in front of the web processes to trust for the client's
    address (X-Forwarded-For) and scheme (X-Forwarded-Proto); 0 trusts none."""
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_PROXY_HOPS:
        raise SettingsError(f"HOTLINE_PROXY_HOPS must be a whole number from 0 to {MAX_PROXY_HOPS} "
                            f"(the proxies in front of the line), not {raw!r}")
    return int(raw)


MIN_PRODUCTION_PIN = 6
"""Digits a recording PIN has at least in production (development accepts 4)."""


def _pin(raw: str | None, production: bool) -> str | None:
    """HOTLINE_VOICE_RECORDING_PIN: digits that open the staff recording call; none, the call is closed.
    There is no default: a line that records prompts has its own PIN, long enough in production."""
    if raw is None:
        return None
    shortest = MIN_PRODUCTION_PIN if production else 4
    if not (raw.isascii() and raw.isdigit()) or not shortest <= len(raw) <= 12:
        raise SettingsError(f"HOTLINE_VOICE_RECORDING_PIN must be {shortest} to 12 digits (typed on a phone's keypad)")
    if production and len(set(raw)) == 1:
        raise SettingsError("HOTLINE_VOICE_RECORDING_PIN must not be one digit repeated")
    return raw


def _timezone(raw: str | None, default: str) -> str:
    """HOTLINE_TIMEZONE: an IANA zone name the machine's zone database (or tzdata) knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw or default)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"HOTLINE_TIMEZONE must be a time zone like Asia/Phnom_Penh, not {raw!r}") from None
    return raw or default


def _intervals(raw: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """Seconds between retries, e.g. '10,60,300'; a sending job is tried once more than there are intervals."""
    if raw is None:
        return default
    try:
        values = tuple(int(x) for x in raw.split(","))
    except ValueError:
        raise SettingsError(f"HOTLINE_RETRY_INTERVALS must be seconds separated by commas, not {raw!r}") from None
    if not values or any(v < 0 for v in values):
        raise SettingsError("HOTLINE_RETRY_INTERVALS needs at least one interval, none negative")
    return values


def _check_data_key(key: str) -> None:
    """Refuse a HOTLINE_DATA_KEY that is not a Fernet key."""
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise SettingsError(
            "HOTLINE_DATA_KEY must be 32 random bytes in URL-safe base64 "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from None
