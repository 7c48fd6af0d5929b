"""GET /healthz: each dependency and its state; 503 when one is down. No secrets, no personal data."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, Flask, jsonify
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from hotline import queues
from hotline.models import Report, utcnow

bp = Blueprint("health", __name__)


def status(s) -> tuple[dict, bool]:
    """The health document and whether everything is up."""
    doc: dict = {"database": {"ok": False}, "redis": {"ok": False}, "queues": {}}
    try:
        with s.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        with s.Session() as session:
            oldest = session.scalar(select(func.min(Report.created_at)).where(Report.routing == "pending"))
            pending = session.scalar(select(func.count()).select_from(Report).where(Report.routing == "pending"))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        doc["database"] = {"ok": True, "unrouted_reports": pending,
                           "oldest_unrouted_seconds": round((utcnow() - oldest).total_seconds()) if oldest else None}
    except SQLAlchemyError as exc:
        doc["database"]["error"] = type(exc).__name__
    try:
        s.redis.ping()
        doc["redis"] = {"ok": True}
        for name in queues.ALL:
            q = queues.queue(name, s.redis)
            doc["queues"][name] = {"depth": q.count,
                                   "scheduled": ScheduledJobRegistry(queue=q).count,
                                   "failed": FailedJobRegistry(queue=q).count}
    except RedisError as exc:
        doc["redis"]["error"] = type(exc).__name__
    # A configuration edit that failed to load: the previous one is still serving.
    doc["config"] = {"ok": not s.config_problems, "problems": len(s.config_problems),
                     "contacts": len(s.directory.contacts)}
    ok = doc["database"]["ok"] and doc["redis"]["ok"]
    doc["ok"] = ok
    return doc, ok


@bp.get("/healthz")
def healthz():
    """200 when the database and Redis answer, else 503."""
    from hotline import current_services

    doc, ok = status(current_services())
    return jsonify(doc), 200 if ok else 503


def init_app(app: Flask) -> None:
    """Register /healthz."""
    app.register_blueprint(bp)
