"""Clusters: an identifier (a phone number, an agency's name) named by at least `clusters.reports` of
one agency's reports within the last `clusters.days` days (the directory's `clusters:`). Only the
reports routed to that agency count, so an agency learns nothing of reports it does not have. A
report merged as a duplicate counts with the report it was merged into: one event, one report.

The agency is told by every means it has (`cluster.detected`), once for each size the cluster
reaches: the alert is made once per cluster, size and newest report (a cluster that lapsed and
forms again is told again). Leaders are never told of clusters.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from hotline.directory import ClusterRule
from hotline.linking.identifiers import CLUSTER_KINDS
from hotline.localtime import aware
from hotline.models import Identifier, Report, ReportIdentifier
from hotline.scoping import routed_to
from hotline.vault import Vault


@dataclass(frozen=True)
class Member:
    """A report of a cluster."""

    id: int
    number: str
    created_at: datetime


@dataclass(frozen=True)
class Cluster:
    """One agency's cluster: its id (stable, and telling nothing of the identifier), kind, value (a
    number in E.164, or the name), and its reports, oldest first (one per event)."""

    id: str
    kind: str
    value: str
    identifier_id: int
    reports: tuple[Member, ...]

    @property
    def size(self) -> int:
        """How many reports (events) it holds."""
        return len(self.reports)

    @property
    def newest(self) -> Member:
        """Its latest report."""
        return self.reports[-1]


def cluster_id(agency_id: str, identifier_hash: str) -> str:
    """A cluster's id: the same for the agency and identifier every time, different for each agency, and
    no way back to the identifier (it comes from the identifier's keyed hash)."""
    return hashlib.sha256(f"{agency_id}\n{identifier_hash}".encode()).hexdigest()[:16]


def since(rule: ClusterRule, now: datetime) -> datetime:
    """The start of the window in which reports count."""
    return now - timedelta(days=rule.days)


def of_agency(session: Session, vault: Vault, agency_id: str, rule: ClusterRule, now: datetime,
              identifier_ids: list[int] | None = None) -> list[Cluster]:
    """The agency's clusters (of these identifiers only, when given): two queries, each reading the
    reports that name the identifiers, through the identifier index."""
    event = func.coalesce(Report.duplicate_of, Report.id)
    counted = (select(ReportIdentifier.identifier_id)
               .join(Report, Report.id == ReportIdentifier.report_id)
               .join(Identifier, Identifier.id == ReportIdentifier.identifier_id)
               .where(Identifier.kind.in_(CLUSTER_KINDS), Report.created_at >= since(rule, now), routed_to(agency_id))
               .group_by(ReportIdentifier.identifier_id)
               .having(func.count(distinct(event)) >= rule.reports))
    if identifier_ids is not None:
        if not identifier_ids:
            return []
        counted = counted.where(ReportIdentifier.identifier_id.in_(identifier_ids))
    ids = list(session.scalars(counted))
    if not ids:
        return []
    rows = session.execute(
        select(ReportIdentifier.identifier_id, Report.id, Report.number, Report.created_at, Report.duplicate_of)
        .join(Report, Report.id == ReportIdentifier.report_id)
        .where(ReportIdentifier.identifier_id.in_(ids), Report.created_at >= since(rule, now), routed_to(agency_id))
        .order_by(Report.created_at, Report.id)).all()
    members: dict[int, dict[int, Member]] = {}
    for row in rows:
        events = members.setdefault(row.identifier_id, {})
        key = row.duplicate_of or row.id
        if key not in events or row.id == key:  # the event's own report when present, else its first duplicate
            events[key] = Member(row.id, row.number, row.created_at)
    out = []
    for ident in session.scalars(select(Identifier).where(Identifier.id.in_(ids)).order_by(Identifier.id)):
        reports = tuple(sorted(members.get(ident.id, {}).values(), key=lambda m: (aware(m.created_at), m.id)))
        if len(reports) < rule.reports:
            continue
        value = vault.decrypt(ident.value) if ident.kind == "phone" else ident.label or ident.text or ""
        out.append(Cluster(cluster_id(agency_id, ident.hash), ident.kind, value or "", ident.id, reports))
    return sorted(out, key=lambda c: (-c.size, -aware(c.newest.created_at).timestamp(), c.id))

