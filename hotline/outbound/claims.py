"""One worker at a time per delivery: a row (an SMS, or an alert that keeps its own state) is
claimed before it is sent, counting the attempt, and released with its outcome. A claim runs out
after HOTLINE_CLAIM_SECONDS, so a delivery whose worker died is tried again (the sweep)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update

from hotline.models import utcnow

STATUS_ORDER = {"pending": 0, "queued": 1, "sent": 2, "delivered": 3, "failed": 3}
"""A status never moves backwards (callbacks arrive out of order and twice)."""


def claim(s, model, row_id: int) -> bool:
    """Take a pending row for this worker (and count the attempt); False if done or taken."""
    now = utcnow()
    with s.Session.begin() as session:
        result = session.execute(
            update(model).where(model.id == row_id, model.status == "pending",
                                or_(model.claimed_until.is_(None), model.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=s.settings.claim_seconds), attempts=model.attempts + 1))
        return result.rowcount == 1


def finish(s, model, row_id: int, status: str | None, error: str | None = None, **values) -> None:
    """Record a delivery's outcome and release the claim (status None: still pending)."""
    with s.Session.begin() as session:
        row = session.get(model, row_id)
        row.claimed_until = None
        row.error = error[:255] if error else None
        for name, value in values.items():
            setattr(row, name, value)
        if status and STATUS_ORDER.get(status, 0) >= STATUS_ORDER.get(row.status, 0):
            row.status = status


def attempts(s, model, row_id: int) -> int:
    """How many times the row was claimed."""
    with s.Session() as session:
        return session.get(model, row_id).attempts


def state(s, model, row_id: int) -> str:
    """A row's status, or 'missing'."""
    with s.Session() as session:
        row = session.get(model, row_id)
        return row.status if row else "missing"
