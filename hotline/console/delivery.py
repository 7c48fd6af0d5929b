"""Delivery you can trust: why each alert failed, in words, and when it will be tried again; the
dead letters, and the operator's button that sends them again (`hotline.deadletters`).

The reasons come from the `error` the workers and the providers' callbacks store on each delivery
(alerts for webhooks and email, outbound messages for SMS), read through ERROR_WORDS. When the next
try is due comes from rq itself: a retried job waits in its queue's scheduled registry until then,
and a job whose every retry failed stays in the failed registry (a dead letter).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from hotline import audit, localtime, queues
from hotline.outbound import deadletters
from hotline.console.auth import role_required, services
from hotline.console.views import bp, report_or_404
from hotline.models import Alert, OutboundMessage, Report

N_ = lambda s: s  # noqa: E731  (marks words for `pybabel extract`; they are translated when shown)

TWILIO_CODES = {
    "21211": N_("invalid number"), "21217": N_("invalid number"), "21214": N_("the number cannot be reached"),
    "21212": N_("the sending number (TWILIO_FROM) is not valid"), "21408": N_("sending to this country is not enabled"),
    "21610": N_("the recipient sent STOP"), "21612": N_("no route to this number"),
    "21614": N_("not a mobile number"), "30003": N_("the phone is off or out of reach"),
    "30004": N_("the message was blocked"), "30005": N_("unknown number"),
    "30006": N_("a landline, or a carrier that cannot be reached"), "30007": N_("filtered as spam by the carrier"),
    "20003": N_("Twilio refused the credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"),
    "20429": N_("the provider asked to slow down"),
}
"""Twilio's error codes (https://www.twilio.com/docs/api/errors) in words."""

AT_REASONS = {
    "InvalidPhoneNumber": N_("invalid number"), "403": N_("invalid number"), "InvalidSenderId": N_(
        "the sender id (AT_FROM) is not valid"), "402": N_("the sender id (AT_FROM) is not valid"),
    "UnsupportedNumberType": N_("not a mobile number"), "404": N_("not a mobile number"),
    "UserInBlacklist": N_("the recipient sent STOP"), "UserInBlackList": N_("the recipient sent STOP"),
    "406": N_("the recipient sent STOP"), "InsufficientBalance": N_("the provider account has no credit"),
    "405": N_("the provider account has no credit"), "InsufficientCredit": N_("the provider account has no credit"),
    "UserDoesNotExist": N_("unknown number"), "NotNetworkSubscriber": N_("unknown number"),
    "UserIsInactive": N_("the phone is off or out of reach"), "DeliveryFailure": N_("the phone is off or out of reach"),
    "CouldNotRoute": N_("no route to this number"), "407": N_("no route to this number"),
}
"""Africa's Talking's send codes and delivery failure reasons in words."""

ERROR_WORDS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(pattern), words) for pattern, words in (
    (r"^(?P<name>[A-Z][A-Z0-9_]*) is not set", N_("webhook secret %(name)s is not set")),
    (r"^webhook answered (?P<code>\d+)", N_("the webhook answered HTTP %(code)s")),
    (r"^webhook unreachable: \w*Timeout", N_("webhook timeout")),
    (r"^webhook unreachable", N_("webhook unreachable")),
    (r"^the contact has no webhook", N_("the agency has no webhook any more")),
    (r"^no email address or no SMTP_HOST", N_("no email address, or SMTP_HOST is not set")),
    (r"^email address refused", N_("the email address was refused")),
    (r"^SMTP: \w*[Tt]imeout", N_("email server timeout")),
    (r"^SMTP", N_("email server unreachable or refused")),
    (r"^recipient said STOP", N_("the recipient sent STOP")),
    (r"unreachable or (refused|unreadable): \w*Timeout", N_("provider timeout")),
    (r"unreachable or (refused|unreadable)", N_("provider unreachable")),
    (r"invalid phone number", N_("invalid number")),
    (r"^TWILIO_ACCOUNT_SID", N_("Twilio credentials are not set (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)")),
    (r"^AT_USERNAME", N_("Africa's Talking credentials are not set (AT_USERNAME, AT_API_KEY)")),
    (r"cannot send SMS", N_("this provider cannot send SMS")),
))
"""The errors the line stores, in words; a code of a provider is read through its own table first."""

_PROVIDER_CODE = re.compile(r"^(?P<provider>twilio|africastalking)(?: status)?(?: \d{3})? (?P<code>\w+)")


def error_words(raw: str | None) -> str | None:
    """A stored delivery error in the reader's words (the stored text itself when nothing reads it)."""
    if not raw:
        return None
    provider_code = _PROVIDER_CODE.match(raw)
    if provider_code:
        table = TWILIO_CODES if provider_code["provider"] == "twilio" else AT_REASONS
        words = table.get(provider_code["code"])
        if words:
            return _(words)
    for pattern, words in ERROR_WORDS:
        found = pattern.search(raw)
        if found:
            return _(words, **found.groupdict())
    return raw


@dataclass(frozen=True)
class NextTry:
    """What happens next to a delivery: `state` is retrying (at `at`, `estimated` when rq did not say),
    dead (every try failed: requeue it), final (failed for good: never tried again) or None."""

    state: str | None
    at: datetime | None = None
    estimated: bool = False
    job_id: str | None = None


def next_try(s, means: str, row_id: int, status: str, attempts: int, error: str | None,
             updated_at: datetime | None) -> NextTry:
    """When a delivery that failed will be tried again (rq's scheduled registry), or that it never will."""
    ids = deadletters.job_ids(means, row_id)
    retrying = status in ("pending", "queued") and attempts > 0 and error
    if status != "failed" and not retrying:
        return NextTry(None)
    try:
        for name in queues.ALL:
            queue = queues.queue(name, s.redis)
            if status == "failed":
                failed = FailedJobRegistry(queue=queue)
                dead = next((job_id for job_id in ids if job_id in failed), None)
                if dead is not None:
                    return NextTry("dead", job_id=dead)
                continue
            for job_id in ids:
                try:
                    return NextTry("retrying", ScheduledJobRegistry(queue=queue).get_scheduled_time(job_id))
                except NoSuchJobError:
                    continue
    except RedisError:
        return NextTry("retrying" if retrying else "final", estimated=True)
    if status == "failed":
        return NextTry("final")
    intervals = s.settings.retry_intervals
    wait = intervals[min(attempts, len(intervals)) - 1] if intervals else 0
    return NextTry("retrying", localtime.aware(updated_at) + timedelta(seconds=wait) if updated_at else None, True)


def report_deliveries(db, s, report: Report, words) -> list[dict]:
    """Every alert of a report: to whom, how, why, its level, its state, why it failed and what next."""
    rows = db.execute(select(Alert, OutboundMessage).outerjoin(OutboundMessage, Alert.outbound_id == OutboundMessage.id)
                      .where(Alert.report_id == report.id).order_by(Alert.id)).all()
    out = []
    for alert, sms in rows:
        row = sms if sms is not None else alert
        means_row_id = sms.id if sms is not None else alert.id
        contact = s.directory.contact(alert.contact_id)
        out.append({"contact": contact.name if contact else alert.contact_id, "means": alert.means, "row_id": means_row_id,
                    "provider": sms.provider if sms is not None else None, "kind": alert.kind,
                    "level": words.level(alert.kind, alert.level, alert.contact_id, report.area_code),
                    "status": row.status, "error": error_words(row.error), "at": alert.created_at,
                    "next": next_try(s, alert.means, means_row_id, row.status, row.attempts, row.error, row.updated_at)})
    return out


@bp.post("/reports/<number>/deliveries/resend")
@role_required("admin")
def resend_delivery(number: str):
    """Send again a delivery of this report that failed for good, once its cause is mended (audited)."""
    s = services()
    means, row_id = request.form.get("means", ""), request.form.get("row_id", "")
    if means not in deadletters.MEANS_ALL:
        abort(400, _("%(name)s must be one of: %(values)s.", name="means", values=", ".join(deadletters.MEANS_ALL)))
    if not (row_id.isascii() and row_id.isdigit()) or len(row_id) > 12:
        abort(400, _("%(name)s must be a whole number from 1 to %(n)d.", name="row_id", n=10**12 - 1))
    with s.Session() as db:
        report = report_or_404(db, number)
        report_id, urgent = report.id, s.directory.types.is_urgent(report.type)
    if deadletters.resend(s, means, int(row_id), report_id, urgent):
        with s.Session.begin() as db:
            audit.record(db, current_user.actor, "deliveries.resend", number, details={"means": means, "row": int(row_id)})
        flash(_("Sent again."), "ok")
    else:
        flash(_("That delivery has not failed, or is not this report's."), "error")
    return redirect(url_for("console.report", number=number)), 303


# ---- dead letters --------------------------------------------------------------------------------
def _dead_letters(s) -> list[dict]:
    """Every dead letter with what it was for: means, recipient, report, why it failed."""
    found = []
    with s.Session() as db:
        for dead in deadletters.list_dead(s):
            model, means = deadletters.ROWS.get(dead["func"]), deadletters.MEANS.get(dead["func"])
            row = db.get(model, dead["args"][0]) if model is not None and dead["args"] else None
            means = getattr(row, "means", None) or means
            report = db.get(Report, row.report_id) if row is not None and row.report_id else None
            contact = s.directory.contact(row.contact_id) if row is not None and row.contact_id else None
            found.append({"job_id": dead["job_id"], "means": means or dead["func"],
                          "provider": getattr(row, "provider", None), "report": report.number if report else None,
                          "to": contact.name if contact else (_("the reporter") if row is not None else None),
                          "error": error_words(getattr(row, "error", None) or dead["error"]),
                          "ended_at": datetime.fromisoformat(dead["ended_at"]) if dead["ended_at"] else None})
    return found


def _line_staff_admin() -> None:
    """Dead letters hold every agency's deliveries and replies to reporters: line staff's admins only."""
    if current_user.agency_id is not None:
        abort(403)


@bp.get("/dead-letters")
@role_required("admin")
def dead_letters():
    """Deliveries whose every retry failed, each with why, and the button that sends them again."""
    _line_staff_admin()
    try:
        dead = _dead_letters(services())
    except RedisError:
        flash(_("The queue (Redis) does not answer: dead letters cannot be read now."), "error")
        dead = []
    return render_template("console/dead_letters.html", dead=dead)


@bp.post("/dead-letters/requeue")
@role_required("admin")
def requeue_dead_letters():
    """Send dead letters again (one, or every one), their rows pending with fresh attempts; audited."""
    _line_staff_admin()
    s = services()
    job_id = request.form.get("job_id", "").strip()
    count = deadletters.requeue(s, [job_id] if job_id else None)
    with s.Session.begin() as db:
        audit.record(db, current_user.actor, "deliveries.requeue", job_id or None, details={"requeued": count})
    flash(_("Sent again: %(n)d.", n=count), "ok")
    return redirect(url_for("console.dead_letters")), 303
