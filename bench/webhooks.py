"""Webhook throughput and latency of the real app against a bare Flask app, same gunicorn settings.

One command: `.venv/bin/python bench/webhooks.py [--duration 12] [--connections 16] [--json]`.
It starts its own Redis, a temp SQLite database (or `--database-url`), the real app
(`hotline:create_app()`) and the bare app (`bench/bare_app.py`), each under gunicorn with
the Procfile's own `web:` settings on 127.0.0.1, and drives both with wrk, the same
connections and duration, step by step: USSD first screen, a USSD menu step, the USSD final
step that stores an urgent report, and a signed Twilio SMS that stores an unsorted report.
Target: the worst step's throughput is at least 0.5x the bare app's, with no errors.

A third app, the floor (`bench.bare_app:create_app(redis_round_trips=True)`), answers the
same fixed replies after the two Redis round trips every real step makes, through the
real code. Its ratio to the bare app shows how much of the target those round trips alone
use up. On the steps that store a report, a fourth, the storing floor
(`create_app(redis_round_trips=True, store=True)`), adds the least storage a report needs:
an encrypted number in one row, committed through the raw driver. `--no-floor` leaves both
floors out.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import webload as W

TARGET_RATIO = 0.5
STORES = {"ussd_final": "urgent", "twilio_sms": "unsorted"}
"""Steps that store a report, and the report type they store."""


def log_problems(path) -> dict:
    """Count the lines in a gunicorn log that tell of trouble, with the first few."""
    marks = ("Traceback", " ERROR ", "[ERROR]", "WORKER TIMEOUT", "database is locked", "unexpected ")
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if any(m in ln for m in marks)]
    return {"count": len(lines), "first": lines[:5]}


def sms_bodies(stack: W.Stack, url: str, nonce: str, n: int, block: int):
    """A file of n pre-signed SMS bodies from senders of their own (block picks the senders)."""
    path = stack.tmp / f"sms-{nonce}.txt"
    W.write_sms_bodies(path, n, url, nonce, block * 1_000_000)
    return path


def measure(stack: W.Stack, g: W.Gunicorn, step: str, target: str, threads: int, runs: W.Runs, bodies, args,
            wrk_log) -> dict:
    """One measured wrk run of a step against one app, with the server's CPU and, for the real
    app's storing steps, the reports it stored."""
    stored_before = stack.count(f"select count(*) from reports where type = '{STORES[step]}'") \
        if target == "real" and step in STORES else None
    script, run_args = W.step_args(step, target, threads, runs, bodies)
    cpu0 = g.cpu_seconds()
    r = W.wrk(g.url, script, run_args, threads, args.connections, args.duration, wrk_log)
    cpu = g.cpu_seconds() - cpu0
    r["server_cpu_ms_per_request"] = cpu * 1000 / max(1, r["requests"])
    r["server_cores_busy"] = cpu / (r["duration_us"] / 1e6)  # of the machine's 2 cores
    if target == "real" and step == "twilio_sms":
        r["errors"] += r["reused"]  # a resent MessageSid is answered from the stored reply
    if stored_before is not None:
        time.sleep(0.5)  # answers still in flight when wrk stopped
        r["reports_stored"] = stack.count(
            f"select count(*) from reports where type = '{STORES[step]}'") - stored_before
        r["answered_2xx"] = r["requests"] - r["bad_status"]
        if r["reports_stored"] < r["answered_2xx"] - r["bad_body"]:
            r["errors"] += r["answered_2xx"] - r["bad_body"] - r["reports_stored"]
    return r


SUMMED = ("requests", "bad_status", "bad_body", "errors", "reused", "reports_stored", "answered_2xx",
          "connect", "read", "write", "timeout", "socket_errors")


def merge(runs: list[dict], warm: dict) -> dict:
    """One app's rounds of a step as one result: counts summed, rates and times the median round's."""
    out = {k: sum(r[k] for r in runs) for k in SUMMED if k in runs[0]}
    for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "server_cpu_ms_per_request", "server_cores_busy"):
        out[k] = statistics.median(r[k] for r in runs)
    out["rounds_rps"] = [round(r["rps"]) for r in runs]
    out["warmup_errors"] = warm["errors"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=6, help="seconds of each measured wrk run (default 6)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured runs per step and app, the apps taking turns; the ratio is the median "
                             "of the rounds' ratios (default 3)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each run (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections, real and bare alike (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--steps", default=",".join(W.STEPS), help=f"comma-separated, of {', '.join(W.STEPS)}")
    parser.add_argument("--database-url", help="use this database (e.g. postgresql://...) instead of a temp SQLite; "
                                               "it is migrated and reports are added to it")
    parser.add_argument("--sms-bodies", type=int, default=15000,
                        help="pre-signed SMS bodies for each of the real app's rounds")
    parser.add_argument("--no-floor", action="store_true", help="leave out both floors (the bare app + Redis round trips, and + a stored row)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in W.STEPS]
    if unknown:
        parser.error(f"unknown steps: {unknown}")
    m = W.machine()
    threads = W.wrk_threads(args.threads, args.connections)
    stack = W.Stack(args.database_url)
    results: dict = {}
    try:
        real_port, bare_port = W.free_port(), W.free_port()
        real = stack.gunicorn("hotline:create_app()", real_port, stack.app_env(real_port), "real.log")
        bare = stack.gunicorn("bench.bare_app:create_app()", bare_port, stack.app_env(bare_port), "bare.log")
        targets = {"real": real, "bare": bare}
        warmups: dict = {}
        if not args.no_floor:
            floor_port = W.free_port()
            targets["floor"] = stack.gunicorn("bench.bare_app:create_app(redis_round_trips=True)", floor_port,
                                              stack.app_env(floor_port), "floor.log")
            if any(s in STORES for s in steps):
                store_port = W.free_port()
                targets["store_floor"] = stack.gunicorn(
                    "bench.bare_app:create_app(redis_round_trips=True, store=True)", store_port,
                    stack.app_env(store_port), "store_floor.log")
        runs = W.Runs()
        warm_bodies: dict = {}
        if "twilio_sms" in steps:
            # A new sender for every SMS of the whole run: a second SMS from a sender adds words to their report.
            warm_bodies["real"] = sms_bodies(stack, real.url, runs.nonce + "w", 5000, 1)
            bare_bodies = sms_bodies(stack, bare.url, runs.nonce + "b", 5000, 2)
            warm_bodies.update(bare=bare_bodies, floor=bare_bodies, store_floor=bare_bodies)
        wrk_log = stack.tmp / "wrk.log"
        for i, step in enumerate(steps):
            results[step] = {"what": W.STEPS[step][0]}
            names = [t for t in targets if t != "store_floor" or step in STORES]
            for target in names:
                script, warm_args = W.step_args(step, target, threads, runs, warm_bodies.get(target))
                warmups[target] = W.wrk(targets[target].url, script, warm_args, threads, args.connections,
                                        args.warmup, wrk_log)
            measured: dict = {t: [] for t in names}
            for k in range(args.rounds):
                shift = (i + k) % len(names)
                for target in names[shift:] + names[:shift]:  # none always goes first
                    bodies = None
                    if step == "twilio_sms":
                        bodies = sms_bodies(stack, real.url, f"{runs.nonce}r{k}", args.sms_bodies, 10 + k) \
                            if target == "real" else warm_bodies[target]
                    time.sleep(0.3)
                    measured[target].append(measure(stack, targets[target], step, target, threads, runs, bodies,
                                                    args, wrk_log))
            for target in names:
                results[step][target] = merge(measured[target], warmups[target])
            results[step]["ratio_rps"] = statistics.median(
                r["rps"] / b["rps"] for r, b in zip(measured["real"], measured["bare"]))
            results[step]["ratio_p50"] = results[step]["real"]["p50_ms"] / max(1e-9, results[step]["bare"]["p50_ms"])
            if "floor" in targets:
                results[step]["floor_ratio_rps"] = statistics.median(
                    f["rps"] / b["rps"] for f, b in zip(measured["floor"], measured["bare"]))
                results[step]["real_to_floor_rps"] = statistics.median(
                    r["rps"] / f["rps"] for r, f in zip(measured["real"], measured["floor"]))
            if "store_floor" in names:
                results[step]["store_floor_ratio_rps"] = statistics.median(
                    f["rps"] / b["rps"] for f, b in zip(measured["store_floor"], measured["bare"]))
                results[step]["real_to_store_floor_rps"] = statistics.median(
                    r["rps"] / f["rps"] for r, f in zip(measured["real"], measured["store_floor"]))
        problems = {t: log_problems(stack.tmp / f"{t}.log") for t in targets}
    finally:
        stack.close(keep=args.keep)
    worst = min(steps, key=lambda s: results[s]["ratio_rps"])
    errors = sum(results[s][t]["errors"] for s in steps for t in ("real", "bare"))
    floor_errors = sum(results[s][t]["errors"] for s in steps for t in ("floor", "store_floor") if t in results[s])
    met = results[worst]["ratio_rps"] >= TARGET_RATIO and errors == 0
    figures = {
        "benchmark": "webhooks",
        "gunicorn": W.procfile_settings(),
        "wrk": {"threads": threads, "connections": args.connections, "duration_s": args.duration,
                "rounds": args.rounds,
                "warmup_s": args.warmup, "timeout": W.WRK_TIMEOUT},
        "database": stack.database_kind,
        "steps": results,
        "worst_step": worst,
        "worst_ratio": round(results[worst]["ratio_rps"], 3),
        "errors": errors,
        "floor_errors": floor_errors,
        "log_problems": problems,
        "target": f"worst step >= {TARGET_RATIO}x bare req/s, no errors",
        "target_met": met,
        "machine": m,
        "kept": str(stack.tmp) if args.keep else None,
    }
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print(f"webhooks: real app vs bare Flask, gunicorn {figures['gunicorn']}")
    print(f"  wrk -t{threads} -c{args.connections}, {args.rounds} rounds of {args.duration:g} s per app and step "
          f"after {args.warmup:g} s warm-up, "
          f"timeout {W.WRK_TIMEOUT}; database {stack.database_kind}; no worker running (jobs wait in Redis)")
    head = (f"  {'step':<54} {'real req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'bare req/s':>10} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'real/bare':>9} {'non-2xx':>8} {'errors':>7} {'CPU ms/req':>11}")
    print(head)
    for s in steps:
        r, b = results[s]["real"], results[s]["bare"]
        print(f"  {results[s]['what']:<54} {r['rps']:>10.0f} {W.fmt_ms(r['p50_ms']):>7} {W.fmt_ms(r['p99_ms']):>7} "
              f"{b['rps']:>10.0f} {W.fmt_ms(b['p50_ms']):>7} {W.fmt_ms(b['p99_ms']):>7} {results[s]['ratio_rps']:>8.2f}x "
              f"{r['bad_status']:>3}/{b['bad_status']:<4} {r['errors']:>3}/{b['errors']:<3} "
              f"{r['server_cpu_ms_per_request']:>5.1f}/{b['server_cpu_ms_per_request']:<5.1f}")
    print(f"  req/s of each round (real / bare{' / floor' if 'floor' in results[steps[0]] else ''}"
          f"{' / storing floor' if any('store_floor' in results[s] for s in steps) else ''}); "
          f"figures above are the median round's, ratios the median of the rounds' ratios:")
    for s in steps:
        apps = [t for t in ("real", "bare", "floor", "store_floor") if t in results[s]]
        print(f"    {s:<11} " + " / ".join(str(results[s][t]["rounds_rps"]) for t in apps))
    for s in steps:
        r = results[s]["real"]
        if "reports_stored" in r:
            print(f"  {s}: {r['answered_2xx']} answered 2xx, {r['reports_stored']} reports stored "
                  f"(more stored than answered = requests still in flight when wrk stopped)")
        if r.get("reused"):
            print(f"  {s}: {r['reused']} SMS bodies sent twice: raise --sms-bodies")
    if any("floor" in results[s] for s in steps):
        print("  floor = the bare app after the two Redis round trips of a real step (hotline.inbound.conversations' "
              "open_step and finish_step), no other work:")
        for s in steps:
            f = results[s]["floor"]
            print(f"    {results[s]['what']:<54} floor {f['rps']:>6.0f} req/s, p50 {W.fmt_ms(f['p50_ms'])} ms, "
                  f"{f['server_cpu_ms_per_request']:.1f} CPU ms/req; floor/bare {results[s]['floor_ratio_rps']:.2f}x, "
                  f"real/floor {results[s]['real_to_floor_rps']:.2f}x; errors {f['errors']}")
        for s in steps:
            if "store_floor" not in results[s]:
                continue
            if s == next(x for x in steps if "store_floor" in results[x]):
                print("  storing floor = the floor with one report row committed between its round trips (number "
                      "encrypted, raw driver): the least a storing step can cost")
            f = results[s]["store_floor"]
            print(f"    {results[s]['what']:<54} storing floor {f['rps']:>6.0f} req/s, p50 {W.fmt_ms(f['p50_ms'])} ms, "
                  f"{f['server_cpu_ms_per_request']:.1f} CPU ms/req; storing floor/bare "
                  f"{results[s]['store_floor_ratio_rps']:.2f}x, real/storing floor "
                  f"{results[s]['real_to_store_floor_rps']:.2f}x; errors {f['errors']}")
    for t, p in problems.items():
        if p["count"]:
            print(f"  {t} app log: {p['count']} lines of trouble, first: {p['first'][0][:160]}")
    print("  non-2xx = answers outside 200-299 (real/bare); errors = non-2xx + wrong bodies + socket errors/timeouts"
          + (" + reused SMS" if "twilio_sms" in steps else "") + " + answered reports not stored")
    print(f"  worst step: {worst}, {results[worst]['ratio_rps']:.2f}x the bare app; errors in all runs: {errors}")
    print(f"  target: {figures['target']}: {'TARGET MET' if met else 'TARGET MISSED'}")
    print(f"  {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
