"""What the webhook keeps in Redis, keyed by the phone's keyed hash only: conversation state,
rate limits, each step's answer (for a provider's resends) and the phones' chosen languages
(a mirror of the database). A step reads them in one round trip (`open_step`) and writes
them, with its new jobs, in one more (`finish_step`).

Redis being down never loses a report: state falls back to none (USSD replays the
session's inputs), the rate limit lets the message through, the language is read from the
database, and a step that stored something is made idempotent by the database.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass

from hiredis import pack_command
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

TTL = {"ussd": 15 * 60, "voice": 15 * 60, "sms": 24 * 3600}
"""How long a conversation is kept: USSD and calls long enough to offer 'continue', SMS to say it expired."""


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
    return _decode(raw)


def save(redis: Redis, channel: str, phone_hash: str, state: dict | None) -> None:
    """Keep (or forget, when None) a conversation."""
    try:
        if state is None:
            redis.delete(_key(channel, phone_hash))
        else:
            redis.set(_key(channel, phone_hash), _encode(state), ex=TTL[channel])
    except RedisError as exc:
        log.warning("conversation state not saved: %s", type(exc).__name__)


def mark_ended(redis: Redis, phone_hash: str, call_sid: str) -> bool:
    """Note that a call ended (its state is kept for 'continue'; no later request of it is taken)."""
    state = load(redis, "voice", phone_hash)
    if not state or state.get("sid") != call_sid or state.get("ended"):
        return False
    save(redis, "voice", phone_hash, dict(state, ended=True))
    return True


def mark_dropped(redis: Redis, phone_hash: str, session_id: str) -> None:
    """Note that a USSD session dropped mid-flow (its state is kept for 'continue')."""
    state = load(redis, "ussd", phone_hash)
    if state and state.get("sid") == session_id:
        state["dropped"] = True
        save(redis, "ussd", phone_hash, state)


# ---- one webhook step: one round trip before the engine, one after ---------------------------
_LANES = threading.local()


def _lane(redis: Redis):
    """This thread's own connection to `redis`, outside its pool: a webhook step's two scripts skip
    the pool, the retry wrapper and the command hooks of redis-py's client (about 40 µs a call)."""
    pool = redis.connection_pool
    lanes = getattr(_LANES, "by_pool", None)
    if lanes is None or _LANES.pid != os.getpid():  # a forked worker opens its own
        lanes = _LANES.by_pool = weakref.WeakKeyDictionary()
        _LANES.pid = os.getpid()
    conn = lanes.get(pool)
    if conn is None:
        conn = lanes[pool] = pool.connection_class(**pool.connection_kwargs)
    return conn


def close_lane(redis: Redis) -> None:
    """Close this thread's lane to `redis`, if it has one."""
    lanes = getattr(_LANES, "by_pool", None)
    conn = lanes.pop(redis.connection_pool, None) if lanes is not None and _LANES.pid == os.getpid() else None
    if conn is not None:
        conn.disconnect()


def _run_script(redis: Redis, script: Script, keys, args):
    """EVALSHA on this thread's lane. A dropped connection (Redis restarted) is tried once more on a
    new one; a script Redis has forgot (restarted, SCRIPT FLUSH) is sent whole, which loads it again."""
    conn = _lane(redis)
    packed = pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))  # hiredis, pinned: in C
    for attempt in (1, 2):
        try:
            try:
                conn.send_packed_command((packed,))
                return conn.read_response()
            except NoScriptError:
                conn.send_packed_command((pack_command(("EVAL", script.script, len(keys), *keys, *args)),))
                return conn.read_response()
        except (RedisConnectionError, RedisTimeoutError):
            conn.disconnect()
            if attempt == 2:
                raise
        except BaseException:
            conn.disconnect()  # a half-read reply must not be read by the next step
            raise
    raise AssertionError("unreachable")


SEEN_TTL = 2 * 24 * 3600
"""How long the answer to a provider message is kept for its resends (providers resend within minutes)."""

LANGUAGE_TTL = 24 * 3600
"""How long 'this phone chose no language', read from the database, is cached."""

NO_LANGUAGE = "-"
"""Cached for a phone that never chose a language (so the database is not asked on every step)."""

MIRROR_KEY = "hotline:lang:complete"
"""Set once every chosen language in the database is also in Redis (`mirror_languages`): a phone
with no language key then has none, and a step never asks the database. Redis losing its data
loses this key too, so steps ask the database again until a worker mirrors the table again."""

MIRROR_SECONDS = 3600
"""The mirror is redone this often (it only fills keys that are missing)."""

_OPEN_STEP = Script(None, b"""
local seen = redis.call('GET', KEYS[1])
if seen then return {seen} end
local count = 0
if ARGV[1] == 'message' then
  count = redis.call('INCR', KEYS[2])
  if count == 1 then redis.call('EXPIRE', KEYS[2], 120) end
else
  local admitted = redis.call('GET', KEYS[6])
  if admitted then
    count = tonumber(admitted)
  else
    count = redis.call('INCR', KEYS[2])
    if count == 1 then redis.call('EXPIRE', KEYS[2], 120) end
    redis.call('SET', KEYS[6], count, 'EX', ARGV[2])
  end
end
local language = redis.call('GET', KEYS[4])
if not language and redis.call('EXISTS', KEYS[5]) == 1 then language = '-' end
return {'', count, redis.call('GET', KEYS[3]) or '', language or ''}
""")
"""Before a step: the stored answer if the message was handled before (nothing counted), else
the phone's rate count, its conversation and its cached language. The rate counts messages and
sessions, never the steps of a session: a session's first step is counted and its count kept for
the session, so a session let in is never cut later, and one refused stays refused."""

SESSION_RATE_TTL = 15 * 60
"""How long a USSD session's admission is remembered (longer than any session lasts)."""


@dataclass
class Opening:
    """What Redis knows before a step runs. `language` is None when not cached (ask the database)."""

    seen: tuple[str, bool] | None = None
    over_rate: bool = False
    state: dict | None = None
    language: str | None = None


def seen_key(provider: str, external_id: str) -> str:
    """Redis key of the answer given to one provider message."""
    return f"hotline:seen:{provider}:{external_id}"


def language_key(phone_hash: str) -> str:
    """Redis key of a phone's cached language."""
    return f"hotline:lang:{phone_hash}"


def open_step(redis: Redis, provider: str, external_id: str, channel: str, phone_hash: str, per_minute: int,
              now: float | None = None, session_id: str | None = None) -> Opening:
    """One round trip: the answer already given to this message (then nothing is counted), else the
    rate count, the conversation and the cached language. A message counts against the phone's rate
    once; a USSD session (`session_id`) once, at its first step. Redis down: an empty opening (the
    database still makes a storing step idempotent, and the rate limit lets the message through)."""
    minute = int((now or time.time()) // 60)
    session = hashlib.sha256(session_id.encode()).hexdigest()[:24] if session_id else ""
    keys = [seen_key(provider, external_id), f"hotline:rate:{phone_hash}:{minute}", _key(channel, phone_hash),
            language_key(phone_hash), MIRROR_KEY, f"hotline:rate:session:{phone_hash}:{session}"]
    try:
        reply = _run_script(redis, _OPEN_STEP, keys, ("session" if session_id else "message", SESSION_RATE_TTL))
    except RedisError as exc:
        log.warning("conversation state unavailable: %s", type(exc).__name__)
        return Opening()
    if reply[0]:
        try:
            text, end = json.loads(reply[0])
            return Opening(seen=(str(text), bool(end)))
        except (ValueError, TypeError):
            pass  # not ours: handle the message
        return Opening()
    _, count, raw_state, language = reply
    return Opening(over_rate=int(count) > per_minute, state=_decode(raw_state),
                   language=language.decode() if language else None)


_FINISH_STEP = Script(None, b"""
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
if ARGV[5] == '-' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
elseif ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5]) end
return 1
""")
"""After a step: keep (or forget) the conversation, keep the answer for resends, and keep the phone's
language: a chosen one for good (it mirrors the database), 'none chosen' for LANGUAGE_TTL."""


def finish_step(redis: Redis, provider: str, external_id: str, channel: str, phone_hash: str,
                state: dict | None, answer: tuple[str, bool], language: str | None, add_jobs=None) -> bool:
    """One round trip after the step's commit: keep (or forget) the conversation, keep the answer for
    resends, cache the phone's language (when the step learned it), and put the step's jobs on the
    queues (`add_jobs(pipeline)`, in the same MULTI). False when Redis could not be reached: stored
    reports and messages then wait for the sweep."""
    keys = (_key(channel, phone_hash), seen_key(provider, external_id), language_key(phone_hash))
    args = ("" if state is None else _encode(state), TTL[channel], _encode(list(answer)), SEEN_TTL,
            "" if language is None else (language or NO_LANGUAGE), LANGUAGE_TTL)
    try:
        if add_jobs is None:
            _run_script(redis, _FINISH_STEP, keys, args)
            return True
        pipe = redis.pipeline()
        pipe.multi()  # rq's enqueue into a caller's pipeline needs MULTI begun
        add_jobs(pipe)
        pipe.evalsha(_FINISH_STEP.sha, len(keys), *keys, *args)
        try:
            pipe.execute()
        except NoScriptError:  # Redis restarted since the script was loaded: the jobs went in, not this
            _run_script(redis, _FINISH_STEP, keys, args)
        return True
    except RedisError as exc:
        log.warning("step not saved in Redis, its work waits for the sweep: %s", type(exc).__name__)
        return False


def _encode(value) -> str:
    """A conversation (or an answer) as Redis keeps it: compact JSON."""
    return json.dumps(value, separators=(",", ":"))


def _decode(raw: bytes | str | None) -> dict | None:
    """A stored conversation, or None."""
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


_MIRROR_MISSING = Script(None, b"""
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if not current or current == '-' then redis.call('SET', key, ARGV[i]) end
end
return #KEYS
""")
"""Fill in languages that are missing (or cached as none), never overwriting a newer choice."""

MIRROR_BATCH = 1000


def mirror_languages(redis: Redis, session_factory) -> int | None:
    """Copy every chosen language from the database into Redis, then mark the mirror complete for
    MIRROR_SECONDS. Does nothing (None) while the mark is there; else the number of phones copied.
    Run by a worker's maintenance, so a step only asks the database while the mark is missing."""
    from sqlalchemy import select

    from hotline.models import Reporter

    if redis.exists(MIRROR_KEY):
        return None
    with session_factory() as session:
        rows = session.execute(select(Reporter.hash, Reporter.language).where(Reporter.language.is_not(None))).all()
    for start in range(0, len(rows), MIRROR_BATCH):
        batch = rows[start:start + MIRROR_BATCH]
        _MIRROR_MISSING(keys=[language_key(h) for h, _ in batch], args=[lang for _, lang in batch], client=redis)
    redis.set(MIRROR_KEY, "1", ex=MIRROR_SECONDS)
    return len(rows)
