"""Linking one new report: does it cost the same with 100,000 reports stored as with 1,000? And what does
scoring suggestions cost against a national-size set?

One command: `.venv/bin/python bench/linking.py [--small 1000] [--large 100000] [--trials 200] [--json]`.
It starts two stacks (each its own Redis and temp SQLite database, migrated), and stores in one
`--small` and in the other `--large` routed recruiter reports of the last 60 days, each naming one of
a pool of recruiters' numbers (about 3 reports a number, as `hotline.linking.index.store` keeps them:
encrypted, by keyed hash) and routed to the partner NGO of the sample directory. Then, trial by trial,
taking turns (and alternating which goes first), it stores one new report naming a random number of
the pool in each database and times `hotline.linking.work.link_report` on it: its identifiers stored,
its clusters found and their alerts made, its jobs enqueued. Target: median large / median small ≤ 1.5.

It also times the suggestion scoring of one report (`suggest.best_matches`, rapidfuzz) against
`--national` stored agency names and descriptions held in memory, and reading them from the database
(`suggest.matches`), for one size. Always exits 0; says TARGET MET or TARGET MISSED.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from datetime import timedelta

import webload as W
from sqlalchemy import insert, select

from hotline import services
from hotline.linking import identifiers, suggest, work
from hotline.models import Identifier, Report, ReportContact, ReportIdentifier, utcnow
from hotline.settings import Settings
from workers import context

SEED = 20261201
TARGET_RATIO = 1.5
AGENCY = "ngo-safe-migration"
VILLAGE = "14010101"
CHUNK = 5000
WORDS = ["golden", "star", "sun", "rise", "angkor", "mekong", "lucky", "pearl", "royal", "victory", "ocean", "dragon", "lotus", "jasmine", "phkay", "meas", "rasmey", "thmey", "sok", "san", "heng", "dara", "thida", "sophea", "chan", "vanna", "bopha", "kosal", "white", "van", "red", "motorbike", "factory", "fishing", "boat", "construction", "maid", "restaurant", "karaoke", "farm", "border", "night", "bus", "market", "pagoda"]


def number(i: int) -> str:
    return f"+85512{i:06d}"


def fill(s, n: int, pool: int, rng: random.Random) -> None:
    """n routed recruiter reports of the last 60 days, each naming a number of the pool (its identifiers
    stored as the linking job stores them), routed to the agency: bulk inserts, CHUNK at a time."""
    now = utcnow()
    hashes = {}
    with s.Session.begin() as session:
        rows = [{"kind": "phone", "hash": s.vault.identifier_hash("phone", number(i)),
                 "value": s.vault.encrypt(number(i)), "created_at": now} for i in range(pool)]
        session.execute(insert(Identifier), rows)
        hashes = dict(session.execute(select(Identifier.hash, Identifier.id)).all())
    ids_by_number = [hashes[s.vault.identifier_hash("phone", number(i))] for i in range(pool)]
    for lo in range(0, n, CHUNK):
        with s.Session.begin() as session:
            batch = range(lo, min(lo + CHUNK, n))
            made = session.execute(insert(Report).returning(Report.id), [
                {"number": str(9_000_000 + i), "type": "recruiter",
                 "status": "new", "area_code": VILLAGE, "answers": {"recruiter_phone": number(i % pool)},
                 "language": "km", "channel": "ussd", "provider": "africastalking", "routing": "routed",
                 "created_at": now - timedelta(seconds=rng.randrange(60 * 86400))} for i in batch]).scalars().all()
            session.execute(insert(ReportContact), [{"report_id": rid, "contact_id": AGENCY, "kind": "agency",
                                                     "level": 0} for rid in made])
            session.execute(insert(ReportIdentifier), [{"report_id": rid, "identifier_id": ids_by_number[i % pool]}
                                                       for rid, i in zip(made, batch)])


def new_report(s, serial: int, pool: int, rng: random.Random) -> int:
    """One new routed report naming a random number of the pool, as routing leaves it."""
    with s.Session.begin() as session:
        rid = session.execute(insert(Report).returning(Report.id), {
            "number": f"{1_000_000 + serial:07d}", "type": "recruiter", "status": "new", "area_code": VILLAGE,
            "answers": {"recruiter_phone": number(rng.randrange(pool))}, "language": "km", "channel": "ussd",
            "provider": "africastalking", "routing": "routed", "link_wanted_at": utcnow()}).scalar()
        session.execute(insert(ReportContact), {"report_id": rid, "contact_id": AGENCY, "kind": "agency", "level": 0})
    return rid


def timed_link(s, report_id: int) -> float:
    started = time.perf_counter_ns()
    assert work.link_report(s, report_id) == "linked"
    return (time.perf_counter_ns() - started) / 1e3


def scoring(size: int, rng: random.Random) -> dict:
    """µs to score one report's name and description against `size` of each, in memory."""
    def phrase(k):
        return " ".join(rng.choice(WORDS) for _ in range(k))
    out = {}
    for scoring in suggest.SCORINGS:
        make = (lambda: identifiers.name_key(phrase(2))) if scoring.kind == "name" else \
            (lambda: identifiers.description([phrase(8)]))
        choices = {i: make() for i in range(size)}
        queries = [make() for _ in range(20)]
        suggest.best_matches(scoring, queries[:1], choices)  # warm
        times = []
        for q in queries:
            started = time.perf_counter_ns()
            suggest.best_matches(scoring, [q], choices)
            times.append((time.perf_counter_ns() - started) / 1e3)
        out[scoring.kind] = {"median_ms": statistics.median(times) / 1000, "max_ms": max(times) / 1000}
    return out


def reading(s, size: int, rng: random.Random) -> float:
    """ms to read `size` stored descriptions from the database (what `suggest.matches` reads each time)."""
    with s.Session.begin() as session:
        session.execute(insert(Identifier), [{"kind": "description", "hash": f"bench-{i}", "text": " ".join(
            rng.choice(WORDS) for _ in range(8)), "created_at": utcnow()} for i in range(size)])
    scoring_ = next(x for x in suggest.SCORINGS if x.kind == "description")
    with s.Session() as session:
        started = time.perf_counter_ns()
        suggest.matches(session, scoring_, ["golden star white van factory"])
        return (time.perf_counter_ns() - started) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--national", type=int, default=100_000, help="names and descriptions scored against")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(SEED)
    m = W.machine()
    stacks = [W.Stack(), W.Stack()]
    built = []
    try:
        for stack, size in zip(stacks, (args.small, args.large)):
            s = services.build(Settings.from_env(environ=stack.app_env(5000)))
            started = time.perf_counter()
            fill(s, size, max(1, size // 3), rng)
            built.append((s, size, time.perf_counter() - started))
        times: dict[int, list[float]] = {args.small: [], args.large: []}
        for trial in range(args.trials + 5):
            order = built if trial % 2 == 0 else built[::-1]
            for s, size, _ in order:
                context.use(s)
                rid = new_report(s, trial, max(1, size // 3), rng)
                gc.disable()
                elapsed = timed_link(s, rid)
                gc.enable()
                if trial >= 5:  # the first trials warm caches and statements
                    times[size].append(elapsed)
        small, large = (statistics.median(times[n]) for n in (args.small, args.large))
        score = scoring(args.national, rng)
        read_ms = reading(built[1][0], args.national, rng)
    finally:
        context.use(None)
        for s, _, _ in built:
            s.close()
        for stack in stacks:
            stack.close()
    ratio = large / small
    figures = {"benchmark": "linking", "small_reports": args.small, "large_reports": args.large,
               "trials": args.trials, "small_median_us": small, "large_median_us": large, "ratio": ratio,
               "small_p95_us": sorted(times[args.small])[int(len(times[args.small]) * .95)],
               "large_p95_us": sorted(times[args.large])[int(len(times[args.large]) * .95)],
               "target": TARGET_RATIO, "met": ratio <= TARGET_RATIO,
               "fill_seconds": {str(size): round(seconds, 1) for _, size, seconds in built},
               "scoring_national": args.national, "scoring": score, "read_descriptions_ms": read_ms, "machine": m}
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print(f"linking one new report (hotline.linking.work.link_report), {args.trials} trials taking turns, SQLite")
    print(f"  {args.small:>7} stored: median {small:8.0f} µs  p95 {figures['small_p95_us']:8.0f} µs")
    print(f"  {args.large:>7} stored: median {large:8.0f} µs  p95 {figures['large_p95_us']:8.0f} µs")
    print(f"  ratio {ratio:.2f} (target ≤ {TARGET_RATIO}): {'TARGET MET' if ratio <= TARGET_RATIO else 'TARGET MISSED'}")
    print(f"suggestion scoring of one report against {args.national:,} of each kind, in memory (rapidfuzz):")
    for kind, f in score.items():
        print(f"  {kind:>11}: median {f['median_ms']:.1f} ms, max {f['max_ms']:.1f} ms")
    print(f"  reading {args.national:,} descriptions from the database for it: {read_ms:.0f} ms")
    print(f"  {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
