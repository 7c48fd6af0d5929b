"""Latency against offered load for the real app's worst USSD step, with the bare app's curve.

One command: `.venv/bin/python bench/load_curve.py [--connections 1,2,4,8,16,32,64] [--json]`.
Same set-up as bench/webhooks.py (own Redis, temp SQLite or `--database-url`, real and bare
app under gunicorn with the Procfile's settings, wrk on 127.0.0.1). The step is the USSD
final step that stores an urgent report (`3*14010101*2` on a fresh session). wrk is a closed
loop: each connection sends its next request as soon as the answer arrives, so the offered
load is the number of connections. For each count, real and bare take turns. It prints p50,
p99 and req/s and draws them to docs/latency-vs-load.png (`--plot` to choose another file).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import webload as W

STEP = "ussd_final"


def plot(path: Path, levels: list[int], results: dict, m: dict, database: str, duration: float) -> None:
    """Latency (p50, p99) and throughput against connections, real and bare on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    colours = {"real": "#c0392b", "bare": "#2471a3"}
    names = {"real": "real app (hotline)", "bare": "bare Flask app"}
    for target in ("real", "bare"):
        p50 = [results[c][target]["p50_ms"] for c in levels]
        p99 = [results[c][target]["p99_ms"] for c in levels]
        rps = [results[c][target]["rps"] for c in levels]
        ax.plot(levels, p50, "o-", color=colours[target], label=f"{names[target]}: p50")
        ax.plot(levels, p99, "s--", color=colours[target], alpha=0.7, label=f"{names[target]}: p99")
        ax2.plot(levels, rps, "o-", color=colours[target], label=names[target])
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(levels)
        a.set_xticklabels([str(c) for c in levels])
        a.set_xlabel("offered load: concurrent connections (closed loop, wrk)")
        a.grid(True, which="both", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("latency")
    ax.legend(fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("throughput (requests/s, log scale)")
    ax2.set_title("throughput")
    ax2.legend(fontsize=8)
    fig.suptitle(f"USSD final step (stores an urgent report): real app vs bare Flask, gunicorn {W.procfile_settings()},"
                 f" {database}, {duration:g} s per point\n{W.machine_line(m)}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", default="1,2,4,8,16,32,64", help="comma-separated connection counts")
    parser.add_argument("--duration", type=float, default=6, help="seconds per point and app (default 6)")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before each point (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (at most one per connection)")
    parser.add_argument("--database-url", help="use this database instead of a temp SQLite")
    parser.add_argument("--plot", default=str(W.ROOT / "docs" / "latency-vs-load.png"), help="PNG to write")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    levels = sorted({int(c) for c in args.connections.split(",") if c.strip()})
    m = W.machine()
    stack = W.Stack(args.database_url)
    results: dict = {}
    try:
        real_port, bare_port = W.free_port(), W.free_port()
        targets = {"real": stack.gunicorn("hotline:create_app()", real_port, stack.app_env(real_port), "real.log"),
                   "bare": stack.gunicorn("bench.bare_app:create_app()", bare_port, stack.app_env(bare_port), "bare.log")}
        runs = W.Runs()
        wrk_log = stack.tmp / "wrk.log"
        for target, g in targets.items():  # a longer first warm-up: imports, connections, caches
            script, warm_args = W.step_args(STEP, target, 1, runs, None)
            W.wrk(g.url, script, warm_args, 1, 4, 3, wrk_log)
        for i, c in enumerate(levels):
            threads = W.wrk_threads(args.threads, c)
            results[c] = {}
            for target in (("real", "bare") if i % 2 == 0 else ("bare", "real")):
                g = targets[target]
                script, warm_args = W.step_args(STEP, target, threads, runs, None)
                W.wrk(g.url, script, warm_args, threads, c, args.warmup, wrk_log)
                script, run_args = W.step_args(STEP, target, threads, runs, None)
                cpu0 = g.cpu_seconds()
                r = W.wrk(g.url, script, run_args, threads, c, args.duration, wrk_log)
                r["server_cpu_ms_per_request"] = (g.cpu_seconds() - cpu0) * 1000 / max(1, r["requests"])
                results[c][target] = r
            time.sleep(0.2)
    finally:
        stack.close(keep=args.keep)
    errors = sum(results[c][t]["errors"] for c in levels for t in ("real", "bare"))
    if not args.no_plot:
        plot(Path(args.plot), levels, results, m, stack.database_kind, args.duration)
    figures = {
        "benchmark": "load_curve",
        "step": W.STEPS[STEP][0],
        "gunicorn": W.procfile_settings(),
        "database": stack.database_kind,
        "duration_s": args.duration,
        "points": {str(c): {t: {k: results[c][t][k] for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                                                               "requests", "bad_status", "errors",
                                                               "server_cpu_ms_per_request")}
                            for t in ("real", "bare")} for c in levels},
        "errors": errors,
        "plot": None if args.no_plot else args.plot,
        "machine": m,
    }
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return 0
    print(f"latency vs load: {figures['step']}; gunicorn {figures['gunicorn']}; database {stack.database_kind}; "
          f"{args.duration:g} s per point")
    print(f"  {'connections':>11} | {'real req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7} | "
          f"{'bare req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7} | {'p50 real/bare':>13}")
    for c in levels:
        r, b = results[c]["real"], results[c]["bare"]
        print(f"  {c:>11} | {r['rps']:>10.0f} {W.fmt_ms(r['p50_ms']):>8} {W.fmt_ms(r['p99_ms']):>8} {r['bad_status']:>7} | "
              f"{b['rps']:>10.0f} {W.fmt_ms(b['p50_ms']):>8} {W.fmt_ms(b['p99_ms']):>8} {b['bad_status']:>7} | "
              f"{r['p50_ms'] / max(1e-9, b['p50_ms']):>12.0f}x")
    print(f"  errors (non-2xx, wrong bodies, socket errors, timeouts > {W.WRK_TIMEOUT}) in all runs: {errors}")
    if not args.no_plot:
        print(f"  plot: {args.plot} ({Path(args.plot).stat().st_size // 1024} KB)")
    print(f"  {W.machine_line(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
