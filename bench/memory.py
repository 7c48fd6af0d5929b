"""Resident memory (RSS) of a gunicorn web worker and of the rq worker as reports go through them.

One command: `.venv/bin/python bench/memory.py [--reports 10000] [--worker-reports 400] [--json]`.
It starts its own Redis, a temp SQLite database (or `--database-url`), the real app under
gunicorn with the Procfile's `web:` settings and one `python -m workers`, both with
SMS_PROVIDER=console (alerts are stored, not sent), all on 127.0.0.1. A Python client
(8 threads, keep-alive) sends `--reports` urgent USSD reports (the final step on a fresh
session, Angkrong village: each is routed to a village leader and the duty unit) while the
worker routes and alerts them, as in production.

RSS is read from /proc (psutil) after a warm-up of 100 reports ("start"), every 1,000
reports, and at the end ("after"). The web figures are for each gunicorn worker (the Procfile says how many).
The worker figure is the `python -m workers` process. Since the worker became rq's
SimpleWorker it runs every job itself; with a forking worker class (rq's `Worker`, before
2026-11-24 22:06) each job ran in a forked "work horse", and the largest horse seen (sampled
every 0.2 s) is printed beside it. One worker routes
and alerts only a few reports a second (bench/worker_rate.py), so by default its "after" is
read once it has routed `--worker-reports` of them (their alerts wait behind the routing
backlog in the same queue); `--worker-reports all` waits until every report is routed and
two alert SMS per report are sent (most of an hour for 10,000 on 2 cores; unacknowledged
urgent reports start escalating after 10 minutes, and those alerts count too).
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

import psutil

import webload as W

WARMUP = 100
CLIENT_THREADS = 8
VILLAGE_STEP = "3*14010101*2"


def rss_mib(proc: psutil.Process) -> float:
    """Resident set size in MiB (VmRSS)."""
    return proc.memory_info().rss / 2**20


def uss_mib(proc: psutil.Process) -> float | None:
    """Unique set size in MiB (pages no other process shares), or None if it cannot be read."""
    try:
        return proc.memory_full_info().uss / 2**20
    except (psutil.AccessDenied, AttributeError):
        return None


class Client:
    """Threads that send urgent USSD reports over keep-alive connections and count the answers."""

    def __init__(self, port: int, nonce: str):
        self.port, self.nonce = port, nonce
        self.lock = threading.Lock()
        self.next = 0
        self.answered = 0
        self.errors: list[str] = []

    def _take(self, limit: int) -> int | None:
        with self.lock:
            if self.next >= limit:
                return None
            self.next += 1
            return self.next - 1

    def _loop(self, limit: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while (i := self._take(limit)) is not None:
            body = urllib.parse.urlencode({"sessionId": f"mem-{self.nonce}-{i}", "phoneNumber": f"+85515{i:07d}",
                                           "serviceCode": "*384*123#", "networkCode": "99999", "text": VILLAGE_STEP})
            try:
                conn.request("POST", f"{W.USSD_PATH}?token={W.AT_TOKEN}", body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
                response = conn.getresponse()
                text = response.read().decode()
                ok = response.status == 200 and text.startswith("END ")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                ok, text = False, f"{type(exc).__name__}"
                response = None
            with self.lock:
                if ok:
                    self.answered += 1
                elif len(self.errors) < 1000:
                    self.errors.append(f"{getattr(response, 'status', '-')} {text[:80]}")
        conn.close()

    def send(self, limit: int, threads: int = CLIENT_THREADS) -> list[threading.Thread]:
        """Start sending until `limit` reports (counted from the first ever) have been sent."""
        ts = [threading.Thread(target=self._loop, args=(limit,), daemon=True) for _ in range(threads)]
        for t in ts:
            t.start()
        return ts


class HorseWatch(threading.Thread):
    """Samples the rq worker's child processes every 0.2 s. A child seen for more than 5 s is
    long-lived (rq's scheduler, which `--with-scheduler` runs as a child); the others are
    work horses forked for one job each (only with a forking worker class)."""

    def __init__(self, worker: psutil.Process):
        super().__init__(daemon=True)
        self.worker = worker
        self.children: dict[int, list[float]] = {}  # pid: [first seen, last seen, largest RSS]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                for child in self.worker.children():
                    now, rss = time.monotonic(), rss_mib(child)
                    seen = self.children.setdefault(child.pid, [now, now, 0.0])
                    seen[1], seen[2] = now, max(seen[2], rss)
            except psutil.Error:
                pass

    def _split(self, long_lived: bool) -> list[list[float]]:
        return [v for v in self.children.values() if (v[1] - v[0] > 5) == long_lived]

    @property
    def seen(self) -> int:
        """Work horses seen."""
        return len(self._split(False))

    @property
    def max_rss(self) -> float:
        """The largest work horse's RSS seen, in MiB."""
        return max((v[2] for v in self._split(False)), default=0.0)

    @property
    def long_lived_rss(self) -> float:
        """The largest long-lived child's RSS (rq's scheduler), in MiB."""
        return max((v[2] for v in self._split(True)), default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10000, help="reports sent through the webhook (default 10000)")
    parser.add_argument("--worker-reports", default="400",
                        help="reports the worker must have routed before its 'after' (default 400; 'all': routed and alerted)")
    parser.add_argument("--database-url", help="use this database instead of a temp SQLite")
    parser.add_argument("--timeout", type=float, default=7200, help="give up waiting for the worker after this many s")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    worker_target = args.reports if args.worker_reports == "all" else min(args.reports, int(args.worker_reports))
    m = W.machine()
    stack = W.Stack(args.database_url)
    samples: list[dict] = []
    started = time.monotonic()
    try:
        port = W.free_port()
        env = stack.app_env(port)
        web = stack.gunicorn("hotline:create_app()", port, env, "web.log")
        worker_proc = stack.spawn([sys.executable, "-m", "workers"], "worker.log", env)
        worker = psutil.Process(worker_proc.pid)
        web_workers = sorted(web.workers(), key=lambda p: p.pid)
        watch = HorseWatch(worker)
        watch.start()
        client = Client(port, W.Runs().nonce)

        def routed() -> int:
            return stack.count("select count(*) from reports where routing = 'routed'")

        def alerted() -> int:
            return stack.count("select count(*) from outbound_messages where purpose = 'alert' and status != 'pending'")

        def sample(label: str) -> dict:
            s = {"label": label, "t": round(time.monotonic() - started, 1), "answered": client.answered,
                 "routed": routed(), "alerts_sent": alerted(),
                 "web_rss_mib": [round(rss_mib(p), 1) for p in web_workers],
                 "web_uss_mib": [round(u, 1) if (u := uss_mib(p)) is not None else None for p in web_workers],
                 "worker_rss_mib": round(rss_mib(worker), 1), "worker_uss_mib": round(uss_mib(worker) or 0, 1),
                 "horse_max_rss_mib": round(watch.max_rss, 1)}
            samples.append(s)
            if not args.json:
                print(f"  {s['label']:>14} t={s['t']:>6}s answered {s['answered']:>6} routed {s['routed']:>6} "
                      f"alerts {s['alerts_sent']:>6}  "
                      f"web RSS {' / '.join(f'{x:.1f}' for x in s['web_rss_mib'])} MiB  "
                      f"worker RSS {s['worker_rss_mib']:.1f} MiB"
                      + (f" (largest horse {s['horse_max_rss_mib']:.1f})" if watch.seen else ""),
                      flush=True)
            return s

        # warm-up: the first reports through both, then the worker catches up
        for t in client.send(WARMUP):
            t.join()
        deadline = time.monotonic() + 300
        while (routed() < WARMUP or alerted() < 2 * WARMUP) and time.monotonic() < deadline:
            time.sleep(0.5)
        start = sample("start")
        threads = client.send(WARMUP + args.reports)
        mark = 1000
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            if client.answered - WARMUP >= mark:
                sample(f"{mark} reports")
                mark += 1000
        web_after = sample("web done")
        deadline = time.monotonic() + args.timeout
        mark = ((web_after["routed"] - WARMUP) // 1000 + 1) * 1000
        # Alerts are sent by jobs queued behind every routing job already waiting (one FIFO
        # queue), so with a backlog they lag: the default reads the worker once it has routed
        # its share; 'all' waits for every alert too.
        while routed() < WARMUP + worker_target or (args.worker_reports == "all" and alerted() < 2 * (WARMUP + worker_target)):
            if time.monotonic() > deadline:
                break
            time.sleep(1)
            if routed() - WARMUP >= mark:
                sample(f"{mark} routed")
                mark += 1000
        worker_after = sample("worker done")
        watch.stop.set()
        horses = watch.seen
    finally:
        stack.close(keep=args.keep)
    done_by_worker = worker_after["routed"] - start["routed"]
    web_reports = web_after["answered"] - start["answered"]
    web_growth = [(a - b) / (web_reports / 1000) for a, b in zip(web_after["web_rss_mib"], start["web_rss_mib"])]
    worker_growth = (worker_after["worker_rss_mib"] - start["worker_rss_mib"]) / max(1e-9, done_by_worker / 1000)
    figures = {
        "benchmark": "memory", "database": stack.database_kind, "gunicorn": W.procfile_settings(),
        "reports_through_web": web_reports, "web_errors": len(client.errors), "web_error_samples": client.errors[:5],
        "reports_through_worker": done_by_worker,
        "web_rss_start_mib": start["web_rss_mib"], "web_rss_after_mib": web_after["web_rss_mib"],
        "web_growth_mib_per_1000": [round(g, 2) for g in web_growth],
        "worker_rss_start_mib": start["worker_rss_mib"], "worker_rss_after_mib": worker_after["worker_rss_mib"],
        "worker_growth_mib_per_1000": round(worker_growth, 2),
        "horse_max_rss_mib": worker_after["horse_max_rss_mib"], "horses_seen": horses,
        "scheduler_rss_mib": round(watch.long_lived_rss, 1),
        "samples": samples, "seconds": round(time.monotonic() - started), "machine": m,
    }
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print(f"memory: {web_reports} urgent USSD reports through the webhook (gunicorn {figures['gunicorn']}), "
          f"{done_by_worker} routed by one worker, {worker_after['alerts_sent'] - start['alerts_sent']} alert SMS sent "
          f"(console); database {stack.database_kind}")
    for i, (a, b, g) in enumerate(zip(start["web_rss_mib"], web_after["web_rss_mib"], web_growth)):
        print(f"  web worker {i + 1}: RSS {a:.1f} MiB at start, {b:.1f} MiB after {web_reports} reports: "
              f"{g:+.2f} MiB per 1,000 reports")
    print(f"  rq worker:    RSS {start['worker_rss_mib']:.1f} MiB at start, {worker_after['worker_rss_mib']:.1f} MiB after "
          f"{done_by_worker} reports: {worker_growth:+.2f} MiB per 1,000 reports; "
          + (f"largest work horse seen {figures['horse_max_rss_mib']:.1f} MiB ({horses} sampled)" if horses
             else "no forked work horse seen (the worker runs its jobs itself)")
          + f"; rq's scheduler process {figures['scheduler_rss_mib']:.1f} MiB")
    print(f"  web errors: {len(client.errors)}" + (f" (first: {client.errors[0]})" if client.errors else ""))
    if done_by_worker < web_reports:
        print(f"  the worker had routed {done_by_worker} of the {web_reports} reports when read "
              f"(--worker-reports all waits for every one)")
    print(f"  took {figures['seconds']} s; {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
