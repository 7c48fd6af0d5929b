"""Send rates: at most `<PROVIDER>_TPS` messages through a provider in any one-second window, across
all workers together (operators and aggregators cap a bind at a few tens a second and reject or
drop above it). A sliding log in Redis, timed by Redis's own clock, so every worker counts alike.

A spike waits its turn instead of being refused, and a share of each second is kept for urgent
alerts, so they go first when the window is full."""
from __future__ import annotations

import logging
import math
import time
import uuid

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

URGENT_SHARE = 0.2
"""The share of a provider's rate that only urgent messages may use."""

KEY = "hotline:tps:{}"
"""A provider's sliding log of sends: a sorted set of send times in microseconds."""

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local nth = redis.call('ZRANGE', KEYS[1], -tonumber(ARGV[1]), -tonumber(ARGV[1]), 'WITHSCORES')
return math.max(1, tonumber(nth[2]) + window - now)
"""
"""Take a place in the window if fewer than ARGV[1] sends fell in the last ARGV[2] microseconds (0), else
say how many microseconds until one leaves it."""


MARGIN_MICROS = 50_000
"""Added to each window: a request's time on the way to the provider varies by a few milliseconds,
and the provider counts arrivals, so sends taken exactly a window apart could land inside one."""


def window(tps: float) -> tuple[int, int]:
    """(sends, microseconds) of the window that holds `tps`: 10/s is 10 in 1.05 s; 0.5/s is 1 in
    2.05 s (a margin of MARGIN_MICROS)."""
    sends = max(1, math.floor(tps))
    return sends, round(sends / tps * 1_000_000) + MARGIN_MICROS


def limit_for(sends: int, urgent: bool) -> int:
    """How many of a window's sends a message may count on: all for urgent ones, else all but the
    urgent share (never less than one)."""
    if urgent:
        return sends
    return max(1, sends - math.ceil(sends * URGENT_SHARE))


def take(redis: Redis, slug: str, tps: float, urgent: bool, wait_up_to: float, sleep=time.sleep) -> bool:
    """Wait for a place in the provider's window (at most `wait_up_to` seconds); True once taken.
    Redis down: True (the provider's own limit is the last word, and nothing else is sent meanwhile)."""
    sends, micros = window(tps)
    limit, member = limit_for(sends, urgent), uuid.uuid4().hex
    deadline = time.monotonic() + wait_up_to
    while True:
        try:
            wait = int(redis.eval(_TAKE, 1, KEY.format(slug), limit, micros, member))
        except RedisError as exc:
            log.warning("send rate not counted: %s", type(exc).__name__)
            return True
        if wait == 0:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sleep(min(wait / 1_000_000, left))
