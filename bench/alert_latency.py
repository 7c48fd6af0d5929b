"""Report → first alert at the provider, with one worker: median and p95 (target: median < 1 s).

One command: `.venv/bin/python bench/alert_latency.py [--reports N] [--json]`.
It starts its own Redis, a fresh SQLite database, a fake Twilio that the official SDK
talks to, and one worker process (`python -m workers`, as the Procfile runs it). Each
report is made over the real USSD webhook (the urgent path, in Angkrong village); the clock
starts when the reporter's last screen is requested and stops when the first alert for that
report is accepted by the fake provider. Everything stays on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import create_app, db  # noqa: E402
from hotline.devserver import redis_binary  # noqa: E402
from hotline.settings import Settings  # noqa: E402
from tests.fakes import FakeTwilio  # noqa: E402

AT_TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    port = free_port()
    redis = subprocess.Popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    fake = FakeTwilio()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET") and "PROXY" not in k.upper()}
    env.update(HOTLINE_ENV="development", REDIS_URL=f"redis://127.0.0.1:{port}/0",
               DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}", AT_WEBHOOK_TOKEN=AT_TOKEN,
               HOTLINE_RATE_LIMIT_PER_MINUTE="100000", PYTHONUNBUFFERED="1", **fake.env())
    worker = None
    try:
        time.sleep(0.3)
        db.upgrade(env["DATABASE_URL"])
        app = create_app({"settings": Settings.from_env(environ=env)})
        client = app.test_client()
        worker = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env,
                                  stdout=open(tmp / "worker.log", "w"), stderr=subprocess.STDOUT)
        time.sleep(8)  # the worker loads and checks the configuration

        def step(session: str, phone: str, text: str) -> str:
            body = urllib.parse.urlencode({"sessionId": session, "phoneNumber": phone, "serviceCode": "*384*123#",
                                           "networkCode": "99999", "text": text})
            response = client.post(f"/webhooks/africastalking/ussd?token={AT_TOKEN}", data=body,
                                   content_type="application/x-www-form-urlencoded")
            return response.get_data(as_text=True)

        latencies = []
        for i in range(args.reports + 3):
            phone, session = f"+8559{i:07d}", f"bench-{i}"
            step(session, phone, "")
            step(session, phone, "3")
            seen = len(fake.accepted)
            started = time.time()
            answer = step(session, phone, "3*14010101*2")
            assert answer.startswith("END "), answer
            deadline = time.monotonic() + 30
            while len(fake.accepted) == seen and time.monotonic() < deadline:
                time.sleep(0.002)
            if len(fake.accepted) == seen:
                raise SystemExit("no alert reached the provider within 30 s: see " + str(tmp / "worker.log"))
            first = fake.accepted_at[seen]
            while len(fake.accepted) < seen + 2 and time.monotonic() < deadline:  # leader + duty unit
                time.sleep(0.002)
            if i >= 3:  # the first reports warm the worker up
                latencies.append(first - started)
        figures = {
            "reports": len(latencies),
            "median_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "target_median_ms": 1000,
            "target_met": statistics.median(latencies) < 1.0,
            "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}".strip(),
            "date": datetime.date.today().isoformat(),
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)
        fake.close()
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"report → first alert at the provider, one worker, {figures['reports']} reports")
        print(f"  median {figures['median_ms']} ms   p95 {figures['p95_ms']} ms   max {figures['max_ms']} ms")
        print(f"  target: median < 1000 ms: {'TARGET MET' if figures['target_met'] else 'TARGET MISSED'}")
        print(f"  {figures['machine']}, {figures['date']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
