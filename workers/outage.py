"""How a worker process tells an outage of Redis or the database from a fault, waits through it with
backoff, and says so once per outage (PRODUCT.md safety rule 6: processes recover by themselves)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

log = logging.getLogger(__name__)

FIRST_WAIT, MAX_WAIT = 1.0, 30.0
"""Seconds before the first new attempt after a failure; each wait doubles up to the last."""

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""What redis-py raises when Redis cannot be reached (down, restarting, still loading its data)."""


def database_down(error: BaseException) -> bool:
    """True if `error` says the database could not be reached or used, rather than that a job is wrong."""
    if isinstance(error, (OperationalError, DisconnectionError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def waits() -> Iterator[float]:
    """Seconds to wait before each new attempt: FIRST_WAIT, doubling, capped at MAX_WAIT."""
    wait = FIRST_WAIT
    while True:
        yield wait
        wait = min(wait * 2, MAX_WAIT)


def intervals() -> list[int]:
    """The waits in whole seconds, up to the first at MAX_WAIT (rq's Retry repeats its last interval)."""
    out: list[int] = []
    for wait in waits():
        out.append(int(wait))
        if wait >= MAX_WAIT:
            return out
    raise AssertionError("unreachable")


def pause(seconds: float, stop: Callable[[], bool] = lambda: False) -> None:
    """Sleep `seconds`, in short steps, returning early once `stop()` is true (a stop signal came)."""
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


class Outage:
    """One dependency's outage as this process sees it: a warning when it starts, a line when it ends,
    and nothing in between however many attempts fail."""

    def __init__(self, what: str, logger: logging.Logger = log):
        self.what, self.log = what, logger
        self.since: float | None = None

    def down(self, error: BaseException) -> None:
        """An attempt failed because `what` is away (only the error's type is logged: its text may hold data)."""
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s unavailable (%s): waiting for it, trying again with backoff up to %d s",
                             self.what, type(error).__name__, MAX_WAIT)

    def up(self) -> None:
        """An attempt succeeded: if `what` was away, say it is back and after how long."""
        if self.since is not None:
            self.log.info("%s is back after %.0f s", self.what, time.monotonic() - self.since)
            self.since = None


DATABASE = Outage("database")
"""This process's view of the database: jobs and the sweep report to it."""
