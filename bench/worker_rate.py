"""Alerts per second with one worker, against rq's own rate for no-op jobs (target: >= 0.5x).

One command: `.venv/bin/python bench/worker_rate.py [--reports 300] [--json]`.
It starts its own Redis, a temp SQLite database (or `--database-url`) and a fake Twilio on
127.0.0.1 (tests/fakes.py, spoken to by the official SDK). Then, in turn:

1. rq's own rate: one plain `rq worker` process on the same Redis; N no-op jobs
   (bench/noop_jobs.py) are enqueued one by one; the clock runs from the first enqueue to
   the end of the last job (rq's own `ended_at`).
2. The line's rate: one `python -m workers` (as the Procfile runs it) with SMS_PROVIDER=twilio
   pointed at the fake. N urgent reports in Angkrong village (a village leader and the duty
   unit: two SMS alerts each) are stored with `hotline.reports.create`, then their routing
   is enqueued with `hotline.outbound.outbox.add_new_jobs`, as the webhook does after its commit.
   The clock runs from the first enqueue to the last alert accepted by the fake Twilio.

It prints alerts/s, the line's jobs/s (route_report + send_sms jobs, counted from rq's
finished registry), no-op jobs/s, the ratio of the two (target >= 0.5) and the mean time
inside each kind of job. Both workers warm up on a few jobs first.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import webload as W

from rq import Queue, Worker  # noqa: E402
from rq.job import Job  # noqa: E402
from rq.registry import FinishedJobRegistry  # noqa: E402

from hotline import queues, reports, services  # noqa: E402
from hotline.outbound import outbox  # noqa: E402
from hotline.engine.dialogue import Draft  # noqa: E402
from hotline.models import OutboundMessage, Report  # noqa: E402
from hotline.settings import Settings  # noqa: E402
from tests.fakes import FakeTwilio  # noqa: E402

TARGET_RATIO = 0.5
NOOP_QUEUE = "bench-noop"
VILLAGE = "14010101"  # Angkrong: a village leader, and the duty unit for urgent reports
WARMUP = 5


def wait_for_worker(redis, queue: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until a worker listening on `queue` has registered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited with {proc.returncode}")
        if any(queue in w.queue_names() for w in Worker.all(connection=redis)):
            return
        time.sleep(0.1)
    raise SystemExit(f"no worker on {queue} after {timeout} s")


def finished(redis, names: tuple[str, ...]) -> set[str]:
    """Ids of the finished jobs of these queues."""
    out: set[str] = set()
    for name in names:
        out.update(FinishedJobRegistry(name, connection=redis).get_job_ids())
    return out


def job_times(redis, ids: set[str]) -> dict[str, list[float]]:
    """Seconds spent inside each job (rq's started_at to ended_at), by function name."""
    by: dict[str, list[float]] = {}
    for job in Job.fetch_many(list(ids), connection=redis):
        if job and job.started_at and job.ended_at:
            by.setdefault(job.func_name.rsplit(".", 1)[-1], []).append((job.ended_at - job.started_at).total_seconds())
    return by


def noop_phase(stack: W.Stack, redis, n: int, timeout: float) -> dict:
    """N no-op jobs through one plain `rq worker`."""
    rq = str(Path(sys.executable).parent / "rq")
    proc = stack.spawn([rq, "worker", "--url", stack.redis_url, "--path", str(W.BENCH), NOOP_QUEUE], "rq-noop.log")
    try:
        wait_for_worker(redis, NOOP_QUEUE, proc)
        q = Queue(NOOP_QUEUE, connection=redis)
        for _ in range(WARMUP):
            q.enqueue("noop_jobs.noop")
        _wait(lambda: len(finished(redis, (NOOP_QUEUE,))) >= WARMUP, timeout, "no-op warm-up")
        before = finished(redis, (NOOP_QUEUE,))
        started = time.time()
        ids = {q.enqueue("noop_jobs.noop").id for _ in range(n)}
        enqueued = time.time() - started
        _wait(lambda: ids <= finished(redis, (NOOP_QUEUE,)), timeout, "no-op jobs")
        jobs = [j for j in Job.fetch_many(list(ids), connection=redis) if j]
        last = max(j.ended_at.timestamp() for j in jobs)
        inside = job_times(redis, ids)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    elapsed = last - started
    assert not (ids & before)
    return {"jobs": n, "seconds": elapsed, "jobs_per_s": n / elapsed, "enqueue_seconds": enqueued,
            "ms_inside_job": {k: statistics.mean(v) * 1000 for k, v in inside.items()}}


def make_reports(s, n: int, start: int) -> list[int]:
    """n urgent reports in the village, stored (not yet routed), as the USSD final step stores them."""
    ids = []
    with s.Session.begin() as session:
        for i in range(start, start + n):
            draft = Draft(type="urgent", area_code=VILLAGE, answers={"area": VILLAGE}, language="km",
                          consent=None, channel="ussd")
            report_id, _ = reports.create(session.connection(), s.vault, draft, f"+85516{i:07d}", "africastalking")
            ids.append(report_id)
    return ids


def enqueue_routing(s, report_ids: list[int]) -> None:
    """Enqueue the reports' routing on the urgent queue as the webhook does (one pipeline per report)."""
    for report_id in report_ids:
        pipe = s.redis.pipeline()
        pipe.multi()
        outbox.add_new_jobs(s, pipe, [(outbox.routing_work(report_id), True)])
        pipe.execute()


def alerts_for(s, report_ids: list[int]) -> tuple[int, int, int]:
    """For these reports: (reports routed, alert SMS created, alert SMS not yet handed to the provider)."""
    from sqlalchemy import func, select

    alert = (OutboundMessage.report_id.in_(report_ids), OutboundMessage.purpose == "alert")
    with s.Session() as session:
        routed = session.scalar(select(func.count()).select_from(Report).where(
            Report.id.in_(report_ids), Report.routing == "routed"))
        created = session.scalar(select(func.count()).select_from(OutboundMessage).where(*alert))
        pending = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            *alert, OutboundMessage.status == "pending"))
    return routed, created, pending


def all_sent(s, report_ids: list[int]) -> bool:
    """Every report routed and every alert SMS handed to the provider."""
    routed, _, pending = alerts_for(s, report_ids)
    return routed == len(report_ids) and pending == 0


def alert_phase(stack: W.Stack, redis, fake: FakeTwilio, env: dict, n: int, timeout: float) -> dict:
    """N reports' routing and alerts through one `python -m workers`."""
    s = services.build(Settings.from_env(environ=env))
    proc = stack.spawn([sys.executable, "-m", "workers"], "worker.log", env)
    try:
        wait_for_worker(redis, queues.URGENT, proc)
        warm = make_reports(s, WARMUP, 0)
        enqueue_routing(s, warm)
        _wait(lambda: all_sent(s, warm), timeout, "alert warm-up")
        per_report = len(fake.accepted) / WARMUP
        timed = make_reports(s, n, WARMUP)
        before_jobs = finished(redis, queues.ALL)
        before_alerts = len(fake.accepted)
        started = time.time()
        enqueue_routing(s, timed)
        enqueued = time.time() - started
        _wait(lambda: all_sent(s, timed), timeout, "alerts")
        time.sleep(0.5)  # the last job's own bookkeeping
        alerts = len(fake.accepted) - before_alerts
        last = max(fake.accepted_at[before_alerts:])
        jobs = finished(redis, queues.ALL) - before_jobs
        _, created, _ = alerts_for(s, timed)
        inside = job_times(redis, jobs)
        failed = sum(Queue(q, connection=redis).failed_job_registry.count for q in queues.ALL)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        s.close()
    elapsed = last - started
    return {"reports": n, "alerts": alerts, "alert_sms_created": created, "alerts_per_report_warmup": per_report,
            "jobs": len(jobs), "seconds": elapsed, "alerts_per_s": alerts / elapsed, "jobs_per_s": len(jobs) / elapsed,
            "enqueue_seconds": enqueued, "failed_jobs": failed,
            "ms_inside_job": {k: statistics.mean(v) * 1000 for k, v in inside.items()},
            "jobs_by_kind": {k: len(v) for k, v in inside.items()}}


def _wait(done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done after {timeout} s")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=300, help="reports to route, and no-op jobs (default 300)")
    parser.add_argument("--database-url", help="use this database instead of a temp SQLite")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds per phase")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    m = W.machine()
    stack = W.Stack(args.database_url)
    fake = FakeTwilio()
    try:
        from redis import Redis

        redis = Redis.from_url(stack.redis_url)
        env = W.clean_env()
        env.update(HOTLINE_ENV="development", DATABASE_URL=stack.database_url, REDIS_URL=stack.redis_url,
                   HOTLINE_RATE_LIMIT_PER_MINUTE="100000000", **fake.env())
        noop = noop_phase(stack, redis, args.reports, args.timeout)
        line = alert_phase(stack, redis, fake, env, args.reports, args.timeout)
    finally:
        fake.close()
        stack.close(keep=args.keep)
    ratio = line["jobs_per_s"] / noop["jobs_per_s"]
    complete = line["alerts"] == line["alert_sms_created"] and line["failed_jobs"] == 0
    met = ratio >= TARGET_RATIO and complete
    figures = {"benchmark": "worker_rate", "database": stack.database_kind, "noop": noop, "line": line,
               "ratio_jobs_per_s": ratio, "target": f"line jobs/s >= {TARGET_RATIO}x no-op jobs/s, every alert sent",
               "target_met": met, "machine": m}
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    inside = ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(line["ms_inside_job"].items()))
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(line["jobs_by_kind"].items()))
    print(f"worker rate: one worker, {args.reports} urgent reports, SMS through a fake Twilio; database {stack.database_kind}")
    print(f"  alerts:     {line['alerts']} accepted in {line['seconds']:.1f} s = {line['alerts_per_s']:.1f} alerts/s, "
          f"{line['reports'] / line['seconds']:.1f} reports/s")
    print(f"  line jobs:  {line['jobs']} ({kinds}) = {line['jobs_per_s']:.1f} jobs/s; inside each job: {inside}")
    print(f"  rq no-op:   {noop['jobs']} jobs in {noop['seconds']:.1f} s = {noop['jobs_per_s']:.1f} jobs/s "
          f"(inside each: {noop['ms_inside_job'].get('noop', 0):.2f} ms), one plain `rq worker`")
    print(f"  ratio line jobs/s / no-op jobs/s: {ratio:.2f}x; alert SMS created {line['alert_sms_created']}, "
          f"accepted {line['alerts']}, failed jobs {line['failed_jobs']}")
    print(f"  target: {figures['target']}: {'TARGET MET' if met else 'TARGET MISSED'}")
    print(f"  {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
