"""Recordings kept on the staff recording call (hotline.voice.recording): each handed to a worker, which
fetches them from the platform (only from its own host, with the account's credentials), checks
them like an upload (hotline.voice.audio) and stores them; the outcome waits in Redis for the call
to say it. Nothing of this runs in the webhook: a platform's answer can take seconds.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests

from hotline import audit, queues
from hotline.channels.base import Rejected
from hotline.outbound import outbox
from hotline.voice import audio

log = logging.getLogger(__name__)

KEEP_SECONDS = 2 * 3600
"""How long a recording's job and its outcome are kept in Redis."""

API_HOST = "api.twilio.com"
"""Where Twilio keeps recordings (a platform named by TWILIO_API_URL keeps them at its own host)."""


def job_key(job: int) -> str:
    """Redis key of one kept recording's job (its URL, language, clip, and then its outcome)."""
    return f"hotline:voice:recording-job:{job}"


def recording_url(s, raw: str | None) -> str:
    """A RecordingUrl the platform gave: only its own host is fetched (the worker carries credentials there)."""
    url = (raw or "").strip()
    parts = urlsplit(url)
    api = s.settings.provider("twilio").api_url
    allowed = urlsplit(api).netloc if api else API_HOST
    if parts.scheme not in ("https", "http") or parts.netloc != allowed or len(url) > 500:
        raise Rejected(400, "field RecordingUrl is not a recording kept by the platform")
    return url


def enqueue(s, sid: str, state: dict) -> int:
    """Hand a kept recording to a worker: fetch, check and store it (its outcome comes back in Redis)."""
    job = int(s.redis.incr("hotline:voice:recording-jobs"))
    clip = state["todo"][state["i"]]
    s.redis.hset(job_key(job), mapping={"url": state["url"], "lang": state["lang"], "clip": clip, "call": sid})
    s.redis.expire(job_key(job), KEEP_SECONDS)
    outbox.enqueue(s, queues.FETCH_CLIP.work(job))
    return job


def fetch(s, job: int) -> str:
    """The worker's part: fetch a kept recording from the platform, check it, store it (once)."""
    found = {k.decode(): v.decode() for k, v in s.redis.hgetall(job_key(job)).items()}
    if not found:
        return "gone"
    if "result" in found:
        return found["result"]
    config = s.settings.provider("twilio")
    try:
        with requests.get(found["url"], auth=(config.account_sid or "", config.auth_token or ""), stream=True,
                          timeout=float(s.settings.provider_timeout)) as answer:
            answer.raise_for_status()
            data = answer.raw.read(audio.MAX_BYTES + 1, decode_content=True)  # a larger one is refused unread
        checked = audio.check(data)
    except audio.ClipRefused as exc:
        result = str(exc)
    except requests.RequestException as exc:
        log.warning("recording %s not fetched: %s", job, type(exc).__name__)
        result = "the platform did not give the recording"
    else:
        audio.store(s.settings.voice_dir, found["lang"], found["clip"], data, checked)
        with s.Session.begin() as session:
            audit.record(session, "recording-call", "voice.clip", f"{found['lang']}/{found['clip']}",
                         details={"seconds": round(checked.seconds, 1), "level_db": round(checked.level_db, 1)})
        result = "kept"
    s.redis.hset(job_key(job), "result", result)
    return result
