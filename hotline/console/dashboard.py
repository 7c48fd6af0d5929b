"""The dashboard (reports per week and province, timings, delivery by means and provider with the
dead letters) and the CSV export that spreadsheets open right: UTF-8 with a byte-order mark, words
in the reader's language with the codes beside them, times in the line's zone."""
from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from redis.exceptions import RedisError

from hotline import audit, channels, stats, svgchart
from hotline.outbound import circuit, deadletters
from hotline.console import query as args
from hotline.console.auth import services
from hotline.console.views import bp, words, zone
from hotline.models import STATUSES


def _duration(seconds: float | None) -> str:
    """A median duration in words a caseworker reads at a glance."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)d min", n=round(seconds / 60))
    if seconds < 2 * 86400:
        return _("%(n).1f h", n=seconds / 3600)
    return _("%(n).1f days", n=seconds / 86400)


def _dead_rows(s) -> dict[str, set[int]] | None:
    """The rows whose delivery is a dead letter (None when Redis does not answer: the page says so)."""
    try:
        return deadletters.dead_rows(s)
    except RedisError:
        return None


def _routes(s) -> list[dict]:
    """Each SMS provider of SMS_PROVIDERS, in order: its name, its health (shared by every worker in
    Redis: up, down, trying again), its send rate. The same facts as /healthz's `providers`."""
    routes = []
    for slug in s.settings.sms_providers:
        health = circuit.health(s.redis, slug)
        routes.append({"slug": slug, "label": channels.get(slug).title, "tps": s.settings.provider(slug).tps,
                       **health.as_dict()})
    return routes


@bp.get("/dashboard")
@login_required
def dashboard():
    """Reports per week and province, open and closed, timings and alert delivery, as inline SVG."""
    s, w = services(), words()
    dead = _dead_rows(s)
    with s.Session() as db:
        d = stats.dashboard(db, current_user.agency_id, s.directory.gazetteer, types=tuple(s.directory.types),
                            tz=zone(), dead=dead or {})
    weekly = svgchart.bar_chart(_("Reports per week"), [w_["week"].split("-")[-1] for w_ in d["weekly"]],
                                {w.type(t): [w_["by_type"].get(t, 0) for w_ in d["weekly"]] for t in d["types"]})
    provinces = svgchart.hbar_chart(_("Reports per province"),
                                    [(p["name_km"] if w.lang == "km" else p["name_en"]) or p["code"] or "?"
                                     for p in d["provinces"]],
                                    {w.type(t): [p["by_type"].get(t, 0) for p in d["provinces"]] for t in d["types"]})
    return render_template("console/dashboard.html", d=d, weekly=weekly, provinces=provinces, dead_known=dead is not None,
                           routes=_routes(s),
                           ack=_duration(d["timing"]["acknowledge"]["median_seconds"]),
                           close=_duration(d["timing"]["close"]["median_seconds"]), types=tuple(s.directory.types),
                           statuses=STATUSES)


@bp.get("/export.csv")
@login_required
def export():
    """Reports as CSV, without personal data (no numbers, no free text); the export is audited."""
    filters = {k: request.args[k] for k in ("since", "until") if request.args.get(k)}
    filters.update({name: value for name, value in (("type", args.one_of("type", tuple(services().directory.types))),
                                                    ("status", args.one_of("status", STATUSES))) if value})
    s = services()
    with s.Session() as db:
        try:
            body = "".join(stats.csv_export(db, current_user.agency_id, s.directory.gazetteer, filters,
                                            s.engine.config.flows, tz=zone(), words=words()))
        except ValueError as exc:
            return Response(f"{exc}\n", status=400, mimetype="text/plain")
    with s.Session.begin() as db:
        audit.record(db, current_user.actor, "report.export", details={"filters": filters})
    return Response(stats.BOM + body, mimetype="text/csv", content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=hotline-reports.csv"})
