"""Each SMS provider's health, shared by every worker in Redis: consecutive failures (or answers
that never came) open its circuit for a while, so alerts go straight to the next provider instead
of waiting on one that is down; after that while, the next send tries it again (half-open), and a
success closes the circuit.

Redis being down makes every provider look up: sending then finds out for itself."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FAILURES_TO_OPEN = 3
"""Consecutive failed sends after which a provider is taken to be down."""

SILENCE_WEIGHT = 2
"""A send the provider never answered counts as this many failures: each one held a worker for the
whole provider timeout, so two in a row are enough to stop waiting on a provider gone silent."""

OPEN_SECONDS = 60
"""How long a provider taken to be down is skipped before it is tried again."""

KEY = "hotline:provider:{}"
"""A provider's health: a hash of failures, open_until, last_error, last_ok."""

_FAILED = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'last_error', ARGV[1], 'last_failure', ARGV[2])
if failures >= tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 'open_until', ARGV[2] + ARGV[4]) end
redis.call('EXPIRE', KEYS[1], 7 * 86400)
return failures
"""
"""Count one more failure (atomically, whatever other workers do), opening the circuit at the threshold."""


@dataclass(frozen=True)
class Health:
    """What the line knows of a provider: up, down (its circuit open) or trying again (half-open)."""

    state: str
    failures: int = 0
    open_for: int = 0
    last_error: str | None = None
    last_ok: float | None = None

    def as_dict(self) -> dict:
        """For /healthz and the console (no secrets, no numbers)."""
        return {"state": self.state, "failures": self.failures, "open_for_seconds": self.open_for,
                "last_error": self.last_error,
                "last_ok_seconds_ago": None if self.last_ok is None else max(0, round(time.time() - self.last_ok))}


def health(redis: Redis, slug: str, now: float | None = None) -> Health:
    """A provider's health now; up when Redis cannot say."""
    now = time.time() if now is None else now
    try:
        raw = redis.hgetall(KEY.format(slug))
    except RedisError:
        return Health("up")
    values = {k.decode(): v.decode() for k, v in raw.items()}
    failures = int(values.get("failures", 0))
    open_until = float(values.get("open_until", 0))
    last_ok = float(values["last_ok"]) if "last_ok" in values else None
    if open_until > now:
        state = "down"
    elif failures >= FAILURES_TO_OPEN:
        state = "retrying"
    else:
        state = "up"
    return Health(state, failures, max(0, round(open_until - now)), values.get("last_error"), last_ok)


def available(redis: Redis, slug: str, now: float | None = None) -> bool:
    """True unless the provider's circuit is open."""
    return health(redis, slug, now).state != "down"


def failed(redis: Redis, slug: str, error: str, now: float | None = None, weight: int = 1) -> None:
    """Count a failed send (the error's kind only: never a number or a text); `weight` failures for
    one that was never answered (SILENCE_WEIGHT)."""
    now = time.time() if now is None else now
    try:
        failures = redis.eval(_FAILED, 1, KEY.format(slug), error[:80], now, FAILURES_TO_OPEN, OPEN_SECONDS, weight)
    except RedisError as exc:
        log.warning("provider health not recorded: %s", type(exc).__name__)
        return
    if int(failures) - weight < FAILURES_TO_OPEN <= int(failures):
        log.warning("SMS provider %s taken to be down after %d failures; alerts go to the next for %d s",
                    slug, FAILURES_TO_OPEN, OPEN_SECONDS)


def succeeded(redis: Redis, slug: str, now: float | None = None) -> None:
    """A send went through: the circuit closes."""
    now = time.time() if now is None else now
    try:
        redis.hset(KEY.format(slug), mapping={"failures": 0, "open_until": 0, "last_ok": now})
    except RedisError as exc:
        log.warning("provider health not recorded: %s", type(exc).__name__)
