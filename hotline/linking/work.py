"""What the worker's linking jobs run (workers/jobs.py gives them the worker's Services), and the
backfill command (`python -m hotline link`).

A report is linked once routed (its agencies are known then) and again whenever its words change:
`Report.link_wanted_at` is set, and cleared by a run only if it still holds the value that run read,
so words added while a run works are linked by the next one (the job enqueued with them, or the sweep).
"""
from __future__ import annotations

import uuid

from sqlalchemy import select, update

from hotline import queues, reports
from hotline.linking import clusters, identifiers, index, suggest
from hotline.linking.identifiers import CLUSTER_KINDS, Named
from hotline.models import Identifier, Report, ReportContact, ReportIdentifier, utcnow
from hotline.outbound import outbox
from hotline.outbound.means import MEANS
from hotline.outbound.means.base import CLUSTER
from hotline.queues import Work


def named_by(s, report: Report) -> list[Named]:
    """What a stored report names. Its words are read as stored (the reporter's own number masked)
    and the reporter's number, when the vault still has it, is left out however it is written. A
    report whose reporter's number was erased (retention) gives numbers from its phone answers only:
    in words stored before the line masked reporters' numbers, the reporter's own could not be told
    from a recruiter's."""
    country = s.directory.line.country
    own = s.vault.decrypt(report.reporter_phone) if report.reporter_phone is not None else None
    phone_ids, text_ids = identifiers.question_ids(s.engine.config.flows.get(report.type))
    return identifiers.of_answers(reports.shown_answers(s.vault, report, country), phone_ids, text_ids, own, country,
                                  numbers_in_words=report.phone_erased_at is None)


def cluster_work(session, s, report_id: int, identifier_ids: list[int]) -> list[Work]:
    """Tell each agency that has the report of every cluster its identifiers make (once per size)."""
    agencies = session.scalars(select(ReportContact.contact_id).where(ReportContact.report_id == report_id,
                                                                       ReportContact.kind == "agency")).all()
    work: list[Work] = []
    now = utcnow()
    for agency_id in agencies:
        contact = s.directory.contact(agency_id)
        if contact is None or contact.kind != "agency":
            continue
        for cluster in clusters.of_agency(session, s.vault, agency_id, s.directory.clusters, now, identifier_ids):
            for means in MEANS.values():
                if means.wanted(s, contact, CLUSTER):
                    item = means.create_cluster(session, s, cluster, contact)
                    if item is not None:
                        work.append(item)
    return work


def link_report(s, report_id: int) -> str:
    """Store what the report names and tell its agencies of the clusters it makes or grows, in one
    transaction; then queue its suggestions. A report not yet routed waits: routing links it."""
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        if report.routing != "routed":
            return "not routed"
        wanted = report.link_wanted_at
        stored = index.store(session, s.vault, report.id, named_by(s, report))
        ids = [i for i, named in stored.items() if named.kind in CLUSTER_KINDS]
        work = cluster_work(session, s, report.id, ids)
        _linked(session, report_id, wanted)
    for item in work:
        outbox.enqueue(s, item, at_front=True)
    outbox.enqueue(s, queues.SUGGEST.work(report_id), urgent=False)
    return "linked"


def _linked(session, report_id: int, wanted) -> None:
    """Clear the report's want of linking, unless it changed since `wanted` was read."""
    if wanted is not None:
        session.execute(update(Report).where(Report.id == report_id, Report.link_wanted_at == wanted)
                        .values(link_wanted_at=None).execution_options(synchronize_session=False))


def suggest_links(s, report_id: int) -> int:
    """Store the suggestions of one report (hotline.linking.suggest); how many are new."""
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        return suggest.suggest(session, report) if report is not None else 0


def want_link(session, report: Report) -> None:
    """Mark a report to be linked again (its words or agencies changed); the caller enqueues `link_job`."""
    report.link_wanted_at = utcnow()


def link_job(report_id: int) -> Work:
    """The job linking a report, under a job id of its own (a run already under way may have read the
    report before this change)."""
    return queues.LINK.work(report_id, f"-{uuid.uuid4().hex[:12]}")


BACKFILL_BATCH = 500
"""Reports the backfill reads at a time."""

SWEEP_BATCH = 200
"""Reports the sweep hands to the workers at a time (after an upgrade, every stored report wants linking)."""


def backfill(s, out=None) -> dict[str, int]:
    """Link every routed report now, in this process: first store what each names (no alerts while the
    stored reports are read in), then tell agencies of today's clusters once, at their full size, then
    score suggestions. Safe to run again (nothing is stored or sent twice); run it again if it stopped
    half-way. Reports stored before this version have their words as stored: recruiters' numbers as
    typed, the reporter's own masked (or left out through the vault's copy of it)."""
    counts = {"reports": 0, "clusters": 0, "suggestions": 0}
    ids = _routed_ids(s)
    for batch in _batches(ids):
        for report_id in batch:
            _index_only(s, report_id)
            counts["reports"] += 1
        if out:
            out(f"read {counts['reports']} of {len(ids)} reports")
    for report_id in ids:
        with s.Session.begin() as session:
            stored = [i for i, kind in _identifiers_of(session, report_id) if kind in CLUSTER_KINDS]
            work = cluster_work(session, s, report_id, stored)
        for item in work:
            outbox.enqueue(s, item)
        counts["clusters"] += len(work)
    for report_id in ids:
        counts["suggestions"] += suggest_links(s, report_id)
    return counts


def _index_only(s, report_id: int) -> None:
    """Store what one report names, nothing else (the sweep then leaves it to the backfill)."""
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        wanted = report.link_wanted_at
        index.store(session, s.vault, report.id, named_by(s, report))
        _linked(session, report_id, wanted)


def _identifiers_of(session, report_id: int) -> list[tuple[int, str]]:
    """(identifier id, kind) of what a report names."""
    return session.execute(select(Identifier.id, Identifier.kind)
                           .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
                           .where(ReportIdentifier.report_id == report_id)).all()


def _routed_ids(s) -> list[int]:
    """Every routed report's id, oldest first."""
    with s.Session() as session:
        return list(session.scalars(select(Report.id).where(Report.routing == "routed").order_by(Report.id)))


def _batches(ids: list[int]):
    """`ids` in BACKFILL_BATCH slices."""
    for start in range(0, len(ids), BACKFILL_BATCH):
        yield ids[start:start + BACKFILL_BATCH]


def sweep(s, cutoff) -> int:
    """Hand to the workers the routed reports that want linking since before `cutoff` (their job was
    lost, or they were stored before linking existed), SWEEP_BATCH at a time; how many."""
    with s.Session() as session:
        due = list(session.scalars(select(Report.id).where(Report.link_wanted_at.is_not(None),
                                                           Report.link_wanted_at < cutoff,
                                                           Report.routing == "routed")
                                   .order_by(Report.link_wanted_at).limit(SWEEP_BATCH)))
    for report_id in due:
        outbox.enqueue(s, queues.LINK.work(report_id))
    return len(due)
