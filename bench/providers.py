"""Sending through Kannel: its rate against a bare HTTP sink, the send-rate cap under a burst, and
how fast alerts fail over to the next provider.

One command: `.venv/bin/python bench/providers.py [--json]` (about four minutes). It starts its own
Redis, a fresh SQLite database and two worker processes (`python -m workers`, as the Procfile runs
them); alert SMS rows are stored and their SEND_SMS jobs enqueued the way routing does. Three parts:

1. **Kannel's interface against a bare sink.** The same messages go through the line's real sending
   (claims, provider module, status recorded) to (a) a bare HTTP sink that answers sendsms's
   `202 0: Accepted` at once and (b) Debian's real Kannel (smsbox + bearerbox) bound over SMPP to the
   SMSC simulator (hotline.gateway), rounds taking turns. Reported: messages a second to each, the
   ratio Kannel/sink, and when the last one reached the SMSC.
2. **The cap under a burst.** KANNEL_TPS=25 and 1,000 alerts stored at once (one in ten urgent):
   the most that reached the sink in any one second (target: at most the cap + 1), the rate
   achieved, each message arriving exactly once, none failed, and how long urgent and routine
   alerts waited.
3. **Failover.** SMS_PROVIDERS=kannel,twilio (the sink playing Kannel, FakeTwilio through the official
   SDK) with alerts flowing at 5 a second; Kannel then stops listening (connection refused), answers
   503, or stops answering (HOTLINE_PROVIDER_TIMEOUT, 10 s): the time from that moment to the first
   alert accepted by Twilio, median and p95 (target: under 30 s). Between trials Kannel comes back
   and its circuit is cleared. At the end every alert must have arrived exactly once (those Kannel
   may have taken while silent stay with it and go out when it is back).

Everything stays on 127.0.0.1. Part 1(b) is skipped, and said so, when Kannel is not installed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import webload as W

from rq import Worker  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from hotline import queues, services  # noqa: E402
from hotline.models import OutboundMessage  # noqa: E402
from hotline.outbound import circuit, outbox  # noqa: E402
from hotline.settings import Settings  # noqa: E402
from tests.fakes import FakeTwilio, most_in_any_window  # noqa: E402

USERNAME, PASSWORD = "bench", "bench-password"
BURST, BURST_TPS = 1000, 25
FLOW_PER_SECOND = 5
FAILOVER_TARGET_S = 30


class Sink:
    """A bare sendsms: answers `202 0: Accepted for delivery` at once, and records each arrival. Modes:
    ok, 503 (answers 503, takes nothing), hang (keeps the request until the client gives up, takes
    nothing), and refused (`stop()`: nothing listens on its port until `start()`)."""

    def __init__(self):
        self.port = W.free_port()
        self.url = f"http://127.0.0.1:{self.port}/cgi-bin/sendsms"
        self.mode = "ok"
        self.arrivals: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._release = threading.Event()

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if sink.mode == "hang":
                    sink._release.wait(30)
                    self.close_connection = True
                    return
                if sink.mode == "503":
                    self._answer(503, b"Internal error")
                    return
                with sink._lock:
                    sink.arrivals.append((time.time(), query.get("text", [""])[0]))
                self._answer(202, b"0: Accepted for delivery")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._release.clear()
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def texts(self) -> list[str]:
        with self._lock:
            return [text for _, text in self.arrivals]


# ---- the line's side ----------------------------------------------------------------------------
class Line:
    """Settings, Services and worker processes for one configuration of providers."""

    def __init__(self, stack: W.Stack, workers: int, **env: str):
        self.stack = stack
        self.env = W.clean_env()
        self.env.update(HOTLINE_ENV="development", DATABASE_URL=stack.database_url, REDIS_URL=stack.redis_url,
                        HOTLINE_RATE_LIMIT_PER_MINUTE="100000000", KANNEL_USERNAME=USERNAME,
                        KANNEL_PASSWORD=PASSWORD, KANNEL_FROM="1700", HOTLINE_RETRY_INTERVALS="2,4,8,16,32")
        self.env.update(env)
        self.s = services.build(Settings.from_env(environ=self.env))
        self.procs = [stack.spawn([sys.executable, "-m", "workers"], f"worker-{time.time():.0f}-{i}.log", self.env)
                      for i in range(workers)]
        deadline = time.monotonic() + 90
        while len([w for w in Worker.all(connection=self.s.redis) if w.state != "suspended"]) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise SystemExit("the workers did not start: see the logs in " + str(stack.tmp))
            time.sleep(0.1)

    def store(self, texts: list[str], urgent: list[bool] | None = None) -> list[int]:
        """Alert SMS rows, one per text, and their jobs (urgent ones on the urgent queue)."""
        urgent = urgent or [False] * len(texts)
        with self.s.Session.begin() as db:
            ids = [outbox.new_sms(db, self.s, f"bench:{text}", f"+8551{i % 10_000_000:07d}", text, "alert",
                                  urgent=u, contact_id="bench").id for i, (text, u) in enumerate(zip(texts, urgent))]
        for message_id, u in zip(ids, urgent):
            outbox.enqueue(self.s, queues.SEND_SMS.work(message_id), urgent=u)
        return ids

    def pending(self, ids: list[int]) -> int:
        with self.s.Session() as db:
            return db.scalar(select(func.count()).select_from(OutboundMessage)
                             .where(OutboundMessage.id.in_(ids), OutboundMessage.status == "pending"))

    def rows(self, ids: list[int]) -> list[OutboundMessage]:
        with self.s.Session() as db:
            return list(db.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids))))

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)
        self.s.redis.delete(*[circuit.KEY.format(p) for p in ("kannel", "twilio")])
        for worker in Worker.all(connection=self.s.redis):
            worker.register_death()
        self.s.close()


def _wait(done, timeout: float, what: str, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done after {timeout} s")
        time.sleep(poll)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- 1. Kannel against a bare sink --------------------------------------------------------------
def rate_round(stack: W.Stack, kannel_env: dict, n: int, tag: str, smsc=None) -> dict:
    line = Line(stack, 2, SMS_PROVIDERS="kannel", KANNEL_TPS="10000", **kannel_env)
    try:
        texts = [f"{tag} {i}" for i in range(n)]
        before = len(smsc.submitted()) if smsc is not None else 0
        started = time.time()
        ids = line.store(texts)
        _wait(lambda: line.pending(ids) == 0, 300, f"{tag}: every message sent", poll=0.1)
        taken = time.time() - started
        at_smsc = None
        if smsc is not None:
            _wait(lambda: len(smsc.submitted()) - before >= n, 300, f"{tag}: every message at the SMSC", poll=0.1)
            at_smsc = time.time() - started
        statuses = Counter(r.status for r in line.rows(ids))
        if set(statuses) != {"queued"}:
            raise SystemExit(f"{tag}: not every message was taken: {dict(statuses)}")
    finally:
        line.close()
    return {"messages": n, "seconds": taken, "per_s": n / taken, "at_smsc_seconds": at_smsc, "statuses": dict(statuses)}


def kannel_vs_sink(stack: W.Stack, n: int, rounds: int) -> dict:
    sink_port = W.free_port()  # the sink runs in a process of its own, as Kannel does
    stack.spawn([sys.executable, __file__, "--serve-sink", str(sink_port)], "sink.log")
    W.wait_port(sink_port)
    sink_env = {"KANNEL_SEND_URL": f"http://127.0.0.1:{sink_port}/cgi-bin/sendsms"}
    out: dict = {"sink": [], "kannel": [], "kannel_skipped": None}
    kannel_stack = None
    try:
        from hotline.gateway import kannel as gateway_kannel
        from hotline.gateway.stack import LocalStack

        if gateway_kannel.installed():
            kannel_stack = LocalStack("http://127.0.0.1:9", stack.tmp / "kannel").start()
        else:
            out["kannel_skipped"] = "Kannel is not installed (apt-get install kannel)"
        for r in range(rounds):
            order = ["sink", "kannel"] if r % 2 == 0 else ["kannel", "sink"]
            for which in order:
                if which == "sink":
                    out["sink"].append(rate_round(stack, sink_env, n, f"sink-{r}"))
                elif kannel_stack is not None:
                    out["kannel"].append(rate_round(stack, kannel_stack.line_env, n, f"kannel-{r}", kannel_stack.smsc))
    finally:
        if kannel_stack is not None:
            kannel_stack.stop()
    out["sink_per_s"] = statistics.median(r["per_s"] for r in out["sink"])
    if out["kannel"]:
        out["kannel_per_s"] = statistics.median(r["per_s"] for r in out["kannel"])
        out["ratio_kannel_over_sink"] = out["kannel_per_s"] / out["sink_per_s"]
        out["kannel_at_smsc_per_s"] = statistics.median(n / r["at_smsc_seconds"] for r in out["kannel"])
    return out


# ---- 2. the cap under a burst -------------------------------------------------------------------
def burst(stack: W.Stack) -> dict:
    sink = Sink()
    sink.start()
    line = Line(stack, 2, SMS_PROVIDERS="kannel", KANNEL_SEND_URL=sink.url, KANNEL_TPS=str(BURST_TPS))
    try:
        texts = [f"burst {i}" for i in range(BURST)]
        urgent = [i % 10 == 0 for i in range(BURST)]
        started = time.time()
        ids = line.store(texts, urgent)
        stored = time.time()
        _wait(lambda: len(sink.arrivals) >= BURST or line.pending(ids) == 0, 600, "the burst")
        time.sleep(1.0)
        rows = line.rows(ids)
    finally:
        line.close()
        sink.stop()
    times = [t for t, _ in sink.arrivals]
    arrived = Counter(sink.texts())
    by_text = {text: t for t, text in sink.arrivals}
    waits = {True: [], False: []}
    for text, u in zip(texts, urgent):
        if text in by_text:
            waits[u].append(by_text[text] - started)
    most = most_in_any_window(times)
    return {"messages": BURST, "tps": BURST_TPS, "store_seconds": stored - started,
            "arrived": sum(arrived.values()), "distinct": len(arrived),
            "twice": sum(1 for c in arrived.values() if c > 1),
            "statuses": dict(Counter(r.status for r in rows)), "retried": sum(1 for r in rows if r.attempts > 1),
            "max_in_any_second": most, "seconds": max(times) - min(times),
            "rate_per_s": (len(times) - 1) / (max(times) - min(times)),
            "urgent_wait_median_s": statistics.median(waits[True]), "routine_wait_median_s": statistics.median(waits[False]),
            "urgent_wait_max_s": max(waits[True]), "routine_wait_max_s": max(waits[False]),
            "target_met": most <= BURST_TPS + 1 and len(arrived) == BURST and sum(arrived.values()) == BURST}


# ---- 3. failover ----------------------------------------------------------------------------------
def failover(stack: W.Stack, trials: dict[str, int]) -> dict:
    sink, twilio = Sink(), FakeTwilio()
    sink.start()
    env = {k: v for k, v in twilio.env().items() if k != "SMS_PROVIDER"}
    line = Line(stack, 2, SMS_PROVIDERS="kannel,twilio", KANNEL_SEND_URL=sink.url, KANNEL_TPS="1000",
                TWILIO_TPS="1000", **env)
    sent: list[str] = []
    stop = threading.Event()

    def flow() -> None:
        i = 0
        while not stop.is_set():
            text = f"flow {i}"
            line.store([text])
            sent.append(text)
            i += 1
            stop.wait(1 / FLOW_PER_SECOND)

    feeder = threading.Thread(target=flow, daemon=True)
    results: dict[str, list[float]] = {mode: [] for mode in trials}
    try:
        feeder.start()
        for mode, count in trials.items():
            for _ in range(count):
                sink.mode = "ok"
                if sink._server is None:
                    sink.start()
                line.s.redis.delete(circuit.KEY.format("kannel"))
                through_kannel = len(sink.arrivals)
                _wait(lambda: len(sink.arrivals) >= through_kannel + 5, 60, "alerts flowing through Kannel")
                seen = len(twilio.accepted)
                started = time.time()
                if mode == "refused":
                    sink.stop()
                else:
                    sink.mode = mode
                _wait(lambda: len(twilio.accepted) > seen, 120, f"failover ({mode})")
                results[mode].append(twilio.accepted_at[seen] - started)
                time.sleep(0.5)
        sink.mode = "ok"
        if sink._server is None:
            sink.start()
        sink._release.set()
        line.s.redis.delete(circuit.KEY.format("kannel"))
        stop.set()
        feeder.join(timeout=10)
        with line.s.Session() as db:
            ids = list(db.scalars(select(OutboundMessage.id).where(OutboundMessage.body.like("flow %"))))
        _wait(lambda: line.pending(ids) == 0, 180, "every flowing alert sent")
        rows = line.rows(ids)
    finally:
        stop.set()
        line.close()
        sink.stop()
        twilio.close()
    arrived = Counter(sink.texts()) + Counter(m["body"] for m in twilio.accepted)
    all_times = [t for times in results.values() for t in times]
    return {"flow_per_s": FLOW_PER_SECOND, "alerts": len(sent),
            "modes": {mode: {"trials": len(times), "median_s": statistics.median(times),
                             "p95_s": _percentile(times, 0.95), "max_s": max(times)} for mode, times in results.items()},
            "median_s": statistics.median(all_times), "p95_s": _percentile(all_times, 0.95),
            "arrived_once": sum(1 for text in sent if arrived[text] == 1),
            "twice": sum(1 for c in arrived.values() if c > 1), "missing": sum(1 for text in sent if not arrived[text]),
            "by_provider": dict(Counter(r.provider for r in rows)), "statuses": dict(Counter(r.status for r in rows)),
            "target_met": max(all_times) < FAILOVER_TARGET_S and all(arrived[t] == 1 for t in sent)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per round of part 1 (default 400)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of part 1 per target (default 2)")
    parser.add_argument("--trials", type=int, default=7, help="failover trials per quick mode (default 7; hang: 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        sink = Sink()
        sink.port = args.serve_sink
        sink.start()
        threading.Event().wait()
    m = W.machine()
    stack = W.Stack()
    try:
        rate = kannel_vs_sink(stack, args.messages, args.rounds)
        capped = burst(stack)
        moved = failover(stack, {"refused": args.trials, "503": args.trials, "hang": 3})
    finally:
        stack.close(keep=args.keep)
    figures = {"benchmark": "providers", "rate": rate, "burst": capped, "failover": moved, "machine": m}
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print("1. the line's sending, two workers: Kannel's sendsms against a bare HTTP sink, "
          f"{args.messages} messages a round, {args.rounds} rounds each, taking turns")
    print(f"   bare sink: {rate['sink_per_s']:.0f} messages/s")
    if rate["kannel"]:
        print(f"   Kannel:    {rate['kannel_per_s']:.0f} messages/s taken by sendsms "
              f"({rate['kannel_at_smsc_per_s']:.0f}/s counted to the last one at the SMSC over SMPP); "
              f"ratio Kannel/sink {rate['ratio_kannel_over_sink']:.2f}x")
    else:
        print(f"   Kannel:    skipped: {rate['kannel_skipped']}")
    print(f"2. a burst of {capped['messages']} alerts (one in ten urgent) with KANNEL_TPS={capped['tps']}, two workers")
    print(f"   at most {capped['max_in_any_second']} reached the provider in any one second (cap {capped['tps']}, "
          f"target <= {capped['tps'] + 1}); {capped['rate_per_s']:.1f}/s over {capped['seconds']:.1f} s")
    print(f"   arrived {capped['arrived']} ({capped['distinct']} distinct, {capped['twice']} twice); "
          f"statuses {capped['statuses']}; retried {capped['retried']}")
    print(f"   waited: urgent median {capped['urgent_wait_median_s']:.1f} s (max {capped['urgent_wait_max_s']:.1f}), "
          f"routine median {capped['routine_wait_median_s']:.1f} s (max {capped['routine_wait_max_s']:.1f})")
    print(f"   {'TARGET MET' if capped['target_met'] else 'TARGET MISSED'}")
    print(f"3. failover, SMS_PROVIDERS=kannel,twilio, alerts flowing at {moved['flow_per_s']}/s, two workers")
    for mode, f in moved["modes"].items():
        print(f"   Kannel {mode:8s}: first alert through Twilio after median {f['median_s']:.2f} s, "
              f"p95 {f['p95_s']:.2f} s, max {f['max_s']:.2f} s ({f['trials']} trials)")
    print(f"   all modes: median {moved['median_s']:.2f} s, p95 {moved['p95_s']:.2f} s (target < {FAILOVER_TARGET_S} s)")
    print(f"   {moved['alerts']} alerts: {moved['arrived_once']} arrived once, {moved['twice']} twice, "
          f"{moved['missing']} missing; carried by {moved['by_provider']}")
    print(f"   {'TARGET MET' if moved['target_met'] else 'TARGET MISSED'}")
    print(f"   {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
