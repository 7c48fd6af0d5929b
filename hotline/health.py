"""GET /healthz: each dependency and its state; 503 when the line cannot do its work. No secrets,
no personal data.

Unhealthy means any of: the database or Redis does not answer; no worker is alive (none has sent a
heartbeat lately, so nothing is routed); a report has waited unrouted longer than
HOTLINE_UNROUTED_ALERT_SECONDS; or every SMS provider is taken to be down. `failing` names each, with
the reason in words; `providers` gives each SMS provider's state (up, down, retrying)."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, Flask, jsonify
from redis import Redis
from redis.exceptions import RedisError
from rq import worker_registration
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.utils import utcparse
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from hotline import queues
from hotline.models import Report, utcnow
from hotline.outbound import circuit

bp = Blueprint("health", __name__)


def live_workers(redis: Redis, limit_seconds: int) -> int:
    """How many rq workers are registered and sent a heartbeat in the last `limit_seconds` (a worker
    that died without saying so stays registered until its key expires)."""
    keys = sorted(worker_registration.get_keys(connection=redis))
    if not keys:
        return 0
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, "last_heartbeat", "death")
        beats = pipe.execute()
    now = utcnow()
    return sum(1 for beat, death in beats if beat and not death and _age(now, beat) <= limit_seconds)


def _age(now, beat: bytes) -> float:
    """Seconds since an rq heartbeat timestamp (one that cannot be read counts as never)."""
    try:
        return (now - utcparse(beat.decode())).total_seconds()
    except ValueError:
        return float("inf")


def status(s) -> tuple[dict, bool]:
    """The health document and whether the line can do its work."""
    doc: dict = {"database": {"ok": False}, "redis": {"ok": False}, "queues": {},
                 "workers": {"ok": False, "alive": None}}
    failing: dict[str, str] = {}
    limit = s.settings.unrouted_alert_seconds
    try:
        with s.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        with s.Session() as session:
            oldest = session.scalar(select(func.min(Report.created_at)).where(Report.routing == "pending"))
            pending = session.scalar(select(func.count()).select_from(Report).where(Report.routing == "pending"))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        waited = round((utcnow() - oldest).total_seconds()) if oldest else None
        doc["database"] = {"ok": True, "unrouted_reports": pending, "oldest_unrouted_seconds": waited,
                           "unrouted_alert_seconds": limit}
        if waited is not None and waited > limit:
            failing["unrouted_reports"] = (f"the oldest unrouted report has waited {waited} s, longer than "
                                           f"HOTLINE_UNROUTED_ALERT_SECONDS ({limit} s)")
    except SQLAlchemyError as exc:
        doc["database"]["error"] = type(exc).__name__
        failing["database"] = f"the database does not answer ({type(exc).__name__})"
    heartbeat_limit = queues.heartbeat_limit(s.settings)
    try:
        s.redis.ping()
        doc["redis"] = {"ok": True}
        for name in queues.ALL:
            q = queues.queue(name, s.redis)
            doc["queues"][name] = {"depth": q.count,
                                   "scheduled": ScheduledJobRegistry(queue=q).count,
                                   "failed": FailedJobRegistry(queue=q).count}
        alive = live_workers(s.redis, heartbeat_limit)
        doc["workers"] = {"ok": alive > 0, "alive": alive}
        if not alive:
            failing["workers"] = f"no worker has sent a heartbeat in the last {heartbeat_limit} s: nothing is routed"
        doc["providers"] = {slug: circuit.health(s.redis, slug).as_dict() for slug in s.settings.sms_providers}
        if all(p["state"] == "down" for p in doc["providers"].values()):
            failing["providers"] = (f"every SMS provider of SMS_PROVIDERS is taken to be down "
                                    f"({', '.join(s.settings.sms_providers)}): alerts wait")
    except RedisError as exc:
        doc["redis"]["error"] = type(exc).__name__
        failing["redis"] = f"Redis does not answer ({type(exc).__name__})"
        failing["workers"] = "no worker can work while Redis does not answer"
    # A configuration edit that failed to load: the previous one is still serving.
    doc["config"] = {"ok": not s.config_problems, "problems": len(s.config_problems),
                     "contacts": len(s.directory.contacts)}
    doc["ok"] = not failing
    doc["failing"] = failing
    return doc, not failing


@bp.get("/healthz")
def healthz():
    """200 when the line can do its work, else 503 naming what fails."""
    from hotline import current_services

    doc, ok = status(current_services())
    return jsonify(doc), 200 if ok else 503


def init_app(app: Flask) -> None:
    """Register /healthz."""
    app.register_blueprint(bp)
