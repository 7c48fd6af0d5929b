"""Where a webhook's time goes: the real app and the bare app in one process, no server, no wrk.

One command: `.venv/bin/python bench/profile_webhooks.py [--requests 2000] [--profile STEP]`.
It starts its own Redis and a temp SQLite database (or `--database-url`), builds the real app
(`hotline:create_app()`), the bare app and the floor (`bench/bare_app.py`: the bare app after
a real step's two Redis round trips), and sends each of
bench/webhooks.py's steps `--requests` times through Werkzeug's test client, the three
taking turns in `--rounds` rounds, timing every request with the process's CPU clock. It
prints the median over rounds of the mean CPU microseconds per request for each, and the
medians of the rounds' ratios bare/real and floor/real. Under gunicorn and wrk the ratios
come out higher (gunicorn's own work per request is in every app), but a change that moves
these moves those the same way. `--profile STEP` adds a cProfile of the
real app on that step, sorted by cumulative time. The figures are a guide for work on the
webhook path; the published ratio is bench/webhooks.py's.
"""
from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

import webload as W

ROOT = Path(__file__).resolve().parent.parent
_SENDERS = itertools.count()


def ussd_body(text: str, nonce: str, u: int) -> str:
    """The same request as bench/wrk_ussd.lua's request number u."""
    return urllib.parse.urlencode({"sessionId": f"ATUid_{nonce}_{u}", "phoneNumber": f"+8551{u % 10**8:08d}",
                                   "serviceCode": "*384*123#", "networkCode": "99999", "text": text})


def bodies(step: str, base_url: str, nonce: str, n: int, tmp: Path) -> list[tuple[str, dict, str]]:
    """n requests of a step as (path, headers, body)."""
    _, script, text, _, _ = W.STEPS[step]
    if script == "ussd":
        path = f"/webhooks/africastalking/ussd?token={W.AT_TOKEN}"
        return [(path, {}, ussd_body(text, nonce, u)) for u in range(n)]
    file = tmp / f"sms-{nonce}.txt"
    # A new sender for every SMS of the whole run: a second SMS from a sender adds words to their report.
    W.write_sms_bodies(file, n, base_url, nonce, next(_SENDERS) * 1_000_000)
    out = []
    for line in file.read_text().splitlines():
        signature, body = line.split("\t", 1)
        out.append((W.SMS_PATH, {"X-Twilio-Signature": signature}, body))
    return out


def run(client, requests: list[tuple[str, dict, str]], prefix: str, profile: cProfile.Profile | None = None) -> float:
    """Send the requests; mean CPU microseconds per request. Any wrong answer stops the run."""
    started = time.process_time()
    if profile:
        profile.enable()
    for path, headers, body in requests:
        r = client.post(path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
                        base_url="http://127.0.0.1:5000")
        if r.status_code != 200 or not r.get_data(as_text=True).startswith(prefix):
            raise SystemExit(f"{path}: {r.status_code} {r.get_data(as_text=True)[:200]!r}")
    if profile:
        profile.disable()
    return (time.process_time() - started) / len(requests) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per step and app (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="turns real and bare take (default 5)")
    parser.add_argument("--steps", default=",".join(W.STEPS))
    parser.add_argument("--profile", help="cProfile the real app on this step")
    parser.add_argument("--top", type=int, default=35, help="rows of the profile to print")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    stack = W.Stack(args.database_url)
    try:
        env = stack.app_env(5000)
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        from bench.bare_app import create_app as bare_app
        from hotline import create_app

        real, bare = create_app().test_client(), bare_app().test_client()
        floor = bare_app(redis_round_trips=True).test_client()
        base = "http://127.0.0.1:5000"
        print(f"profile_webhooks: {args.requests} requests per step and app, in one process; "
              f"database {stack.database_kind}")
        print(f"  {'step':55} {'real µs':>9} {'bare µs':>9} {'floor µs':>9} {'bare/real':>10} {'floor/real':>10}")
        for i, step in enumerate(s.strip() for s in args.steps.split(",")):
            _, _, _, real_prefix, bare_prefix = W.STEPS[step]
            run(real, bodies(step, base, f"w{i}", 200, stack.tmp), real_prefix)  # warm-up
            run(bare, bodies(step, base, f"v{i}", 200, stack.tmp), bare_prefix)
            run(floor, bodies(step, base, f"f{i}", 200, stack.tmp), bare_prefix)
            profile = cProfile.Profile() if step == args.profile else None
            # Real and bare take turns in rounds, so a change in the machine's load hits both alike.
            per_round = max(args.requests // args.rounds, 1)
            real_runs, bare_runs, floor_runs = [], [], []
            for k in range(args.rounds):
                real_runs.append(run(real, bodies(step, base, f"r{i}x{k}", per_round, stack.tmp), real_prefix, profile))
                bare_runs.append(run(bare, bodies(step, base, f"b{i}x{k}", per_round, stack.tmp), bare_prefix))
                floor_runs.append(run(floor, bodies(step, base, f"f{i}x{k}", per_round, stack.tmp), bare_prefix))
            r, b, f = (statistics.median(runs) for runs in (real_runs, bare_runs, floor_runs))
            ratio = statistics.median(y / x for x, y in zip(real_runs, bare_runs))
            floor_ratio = statistics.median(y / x for x, y in zip(real_runs, floor_runs))
            print(f"  {W.STEPS[step][0]:55} {r:9.0f} {b:9.0f} {f:9.0f} {ratio:9.2f}x {floor_ratio:9.2f}x", flush=True)
            if profile:
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
