"""Conversation state and rate limits in Redis, keyed by the phone's keyed hash only.

Redis being down never loses a report: state falls back to none (USSD replays the
session's inputs) and the rate limit lets the message through.
"""
from __future__ import annotations

import json
import logging
import time

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

TTL = {"ussd": 15 * 60, "sms": 24 * 3600}
"""How long a conversation is kept: USSD long enough to offer 'continue', SMS to say it expired."""


def _key(channel: str, phone_hash: str) -> str:
    """Redis key of a conversation."""
    return f"hotline:conv:{channel}:{phone_hash}"


def load(redis: Redis, channel: str, phone_hash: str) -> dict | None:
    """The saved conversation, or None (also when Redis cannot be reached)."""
    try:
        raw = redis.get(_key(channel, phone_hash))
    except RedisError as exc:
        log.warning("conversation state unavailable: %s", type(exc).__name__)
        return None
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def save(redis: Redis, channel: str, phone_hash: str, state: dict | None) -> None:
    """Keep (or forget, when None) a conversation."""
    try:
        if state is None:
            redis.delete(_key(channel, phone_hash))
        else:
            redis.set(_key(channel, phone_hash), json.dumps(state, separators=(",", ":")), ex=TTL[channel])
    except RedisError as exc:
        log.warning("conversation state not saved: %s", type(exc).__name__)


def mark_dropped(redis: Redis, phone_hash: str, session_id: str) -> None:
    """Note that a USSD session dropped mid-flow (its state is kept for 'continue')."""
    state = load(redis, "ussd", phone_hash)
    if state and state.get("sid") == session_id:
        state["dropped"] = True
        save(redis, "ussd", phone_hash, state)


def over_rate(redis: Redis, phone_hash: str, per_minute: int, now: float | None = None) -> bool:
    """Count a message from this phone; True once it sends more than `per_minute` in a minute."""
    minute = int((now or time.time()) // 60)
    key = f"hotline:rate:{phone_hash}:{minute}"
    try:
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
    except RedisError:
        return False
    return int(count) > per_minute
