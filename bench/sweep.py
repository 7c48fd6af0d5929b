"""The sweep's escalation recovery against the number of open reports, with its memory.

One command: `.venv/bin/python bench/sweep.py [--sizes 1000,10000] [--database-url URL] [--json]`.
It starts its own Redis and a temp SQLite database (or `--database-url`), and for each size
N stores N unacknowledged, routed reports in Angkrong village (each with its "routed" event, as
`route_report` leaves them) and schedules each one's first escalation in rq, as
`route_report` does. Then it times `workers.jobs.recover_escalations`, which the worker's
sweep runs every HOTLINE_SWEEP_SECONDS (30 s by default), in two cases:

- **steady**: every escalation is still in Redis, so nothing is scheduled (every sweep of a
  line whose leaders leave reports unacknowledged);
- **after Redis lost its data**: every escalation is scheduled again (once).

The baseline, timed in the same run, is the least any recovery has to do: read the ids of
the open routed reports in one query. It prints the median of `--repeat` steady sweeps and
one recovery, the ratio of the steady sweep to the baseline, µs per open report, and the
peak memory Python allocated during a steady sweep (tracemalloc; RSS cannot show a peak).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc

import webload as W

from sqlalchemy import func, insert, select, update  # noqa: E402

from hotline import reports, services  # noqa: E402
from hotline.outbound import dispatch  # noqa: E402
from hotline.engine.dialogue import Draft  # noqa: E402
from hotline.models import Report, ReportEvent, utcnow  # noqa: E402
from hotline.settings import Settings  # noqa: E402
from workers import context, jobs  # noqa: E402

VILLAGE = "14010101"  # Angkrong: a village leader under a commune, so a report escalates
CHUNK = 1000


def add_open_reports(s, n: int, start: int) -> None:
    """n routed, unacknowledged recruiter reports, each with its 'routed' event and its first
    escalation scheduled in rq, as route_report leaves them."""
    window = s.directory.escalation["recruiter"]
    for lo in range(start, start + n, CHUNK):
        with s.Session.begin() as session:
            conn = session.connection()
            ids = []
            for i in range(lo, min(lo + CHUNK, start + n)):
                draft = Draft(type="recruiter", area_code=VILLAGE, answers={"area": VILLAGE}, language="km",
                              consent=None, channel="ussd")
                ids.append(reports.create(conn, s.vault, draft, f"+85517{i:07d}", "africastalking")[0])
            conn.execute(update(Report).where(Report.id.in_(ids)).values(routing="routed", routed_at=utcnow()))
            conn.execute(insert(ReportEvent), [{"report_id": i, "kind": "routed", "actor": "line",
                                                "data": {"leaders": ["pv-angkrong-village"], "agencies": [],
                                                         "skipped_conflict": 0, "levels": 2}} for i in ids])
        for report_id in ids:
            dispatch.schedule_escalation(s, report_id, 1, window, False)


def baseline(s) -> float:
    """Seconds to read the ids of the open routed reports: the least a recovery must do."""
    started = time.perf_counter()
    with s.Session() as session:
        session.execute(select(Report.id).where(Report.status == "new", Report.routing == "routed")).all()
    return time.perf_counter() - started


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def measure(s, n: int, repeat: int) -> dict:
    open_reports = 0
    with s.Session() as session:
        open_reports = session.scalar(select(func.count()).select_from(Report).where(
            Report.status == "new", Report.routing == "routed"))
    assert open_reports == n, (open_reports, n)
    jobs.recover_escalations(s)  # warm: imports, statement caches, the directory's plans
    base = statistics.median(baseline(s) for _ in range(repeat))
    steady = []
    for _ in range(repeat):
        seconds, scheduled = timed(lambda: jobs.recover_escalations(s))
        if scheduled:
            raise SystemExit(f"a steady sweep scheduled {scheduled} escalations: they were all in Redis")
        steady.append(seconds)
    tracemalloc.start()
    jobs.recover_escalations(s)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for key in s.redis.scan_iter("rq:*"):  # Redis restarted without its data: the jobs are gone
        s.redis.delete(key)
    lost_seconds, rescheduled = timed(lambda: jobs.recover_escalations(s))
    if rescheduled != n:
        raise SystemExit(f"after Redis lost its data, {rescheduled} of {n} escalations were scheduled again")
    again = jobs.recover_escalations(s)
    if again:
        raise SystemExit(f"the sweep after the recovery scheduled {again} escalations twice")
    median = statistics.median(steady)
    return {"open_reports": n, "baseline_ms": base * 1000, "steady_ms": median * 1000,
            "steady_runs_ms": [round(x * 1000, 1) for x in steady], "steady_to_baseline": median / base,
            "steady_us_per_report": median * 1e6 / n, "recovery_ms": lost_seconds * 1000,
            "recovery_us_per_report": lost_seconds * 1e6 / n, "peak_mib": peak / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="open reports, comma-separated and growing")
    parser.add_argument("--repeat", type=int, default=5, help="steady sweeps timed per size (default 5)")
    parser.add_argument("--database-url", help="use this database instead of a temp SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    m = W.machine()
    stack = W.Stack(args.database_url)
    results = []
    try:
        env = stack.app_env(5000)
        s = services.build(Settings.from_env(environ=env))
        context.use(s)
        have = 0
        for n in sizes:
            add_open_reports(s, n - have, have)
            have = n
            results.append(measure(s, n, args.repeat))
        context.use(None)
        s.close()
    finally:
        stack.close()
    figures = {"benchmark": "sweep", "database": stack.database_kind, "sweep_seconds_default": 30,
               "sizes": results, "machine": m}
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print(f"sweep: escalation recovery over N open, routed, unacknowledged reports; database {stack.database_kind}")
    print(f"  {'open reports':>12} {'baseline ms':>11} {'steady sweep ms':>15} {'sweep/baseline':>14} "
          f"{'µs/report':>9} {'peak MiB':>8} {'after Redis lost, ms':>20}")
    for r in results:
        print(f"  {r['open_reports']:>12} {r['baseline_ms']:>11.1f} {r['steady_ms']:>15.1f} "
              f"{r['steady_to_baseline']:>13.1f}x {r['steady_us_per_report']:>9.1f} {r['peak_mib']:>8.1f} "
              f"{r['recovery_ms']:>20.0f}")
    print("  baseline = one query reading the open reports' ids; steady = every escalation still in Redis "
          f"(median of {args.repeat}); after Redis lost = every escalation scheduled again")
    print(f"  {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
