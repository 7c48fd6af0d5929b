"""Sign-in throttling that locks out guessers, not the people they share an address with.

Failures count per account and address (PAIR_FAILURES in FAILURE_WINDOW), and per account from
any address (ACCOUNT_FAILURES). There is no limit per address alone: behind a proxy, or on an
office's shared connection, everyone has one address, and one person's failures would lock out
all. A browser that signed in to an account before carries a signed device cookie for it (a
"known device"), and the right password from it passes the account-wide limit, so guessing an
account from many addresses never locks its owner out; the pair limit holds for everyone.
"""
from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis import Redis
from redis.exceptions import RedisError

PAIR_FAILURES = 5
"""Failed sign-ins allowed for one account from one address in the window."""

ACCOUNT_FAILURES = 20
"""Failed sign-ins allowed for one account from all addresses in the window (known devices pass)."""

FAILURE_WINDOW = 15 * 60
"""Seconds a failure counts for."""

DEVICE_COOKIE = "hotline_device"
"""The known-device cookie: the ids of the accounts this browser signed in to, signed."""

DEVICE_SECONDS = 90 * 86400
"""How long a browser stays known after its last sign-in."""

DEVICE_ACCOUNTS = 5
"""Accounts one browser is remembered for (a shared office computer), the latest first."""

_SALT = "hotline.console.known-device"


def _key(*parts: str) -> str:
    """A Redis key for these parts (hashed: usernames and addresses may hold any character)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"hotline:login:{len(parts)}:{digest}"


def _keys(username: str, address: str) -> tuple[str, str]:
    """The failure counters of (account, address) and of the account."""
    name = username.lower()
    return _key(name, address), _key(name)


def throttled(r: Redis, username: str, address: str, known_device: bool) -> bool:
    """True when this account failed too often from this address, or (unless the browser is a
    known device of the account) from everywhere. Without Redis, nothing is throttled."""
    try:
        pair, account = r.mget(_keys(username, address))
    except RedisError:
        return False
    if int(pair or 0) >= PAIR_FAILURES:
        return True
    return not known_device and int(account or 0) >= ACCOUNT_FAILURES


def count_failure(r: Redis, username: str, address: str) -> None:
    """Count a failed sign-in against the account from this address and against the account."""
    try:
        pipe = r.pipeline()
        for key in _keys(username, address):
            pipe.incr(key)
            pipe.expire(key, FAILURE_WINDOW)
        pipe.execute()
    except RedisError:
        pass


def forget_pair(r: Redis, username: str, address: str) -> None:
    """After a sign-in, this address's earlier failures on the account no longer count."""
    try:
        r.delete(_keys(username, address)[0])
    except RedisError:
        pass


def known_accounts(cookie: str | None, secret: str) -> list[int]:
    """The account ids a device cookie vouches for (none if absent, forged or older than DEVICE_SECONDS)."""
    if not cookie:
        return []
    try:
        ids = URLSafeTimedSerializer(secret, salt=_SALT).loads(cookie, max_age=DEVICE_SECONDS)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def device_cookie(known: list[int], user_id: int, secret: str) -> str:
    """The device cookie's new value after `user_id` signed in on it."""
    ids = [user_id] + [i for i in known if i != user_id]
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(ids[:DEVICE_ACCOUNTS])
