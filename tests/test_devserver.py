"""The README's first command (`make run` = `python -m hotline dev`) as a newcomer uses it: it
starts Redis, the database, web and worker, a report made in the simulator reaches its
leader, and Ctrl-C stops everything cleanly."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from redis import Redis
from redis.exceptions import RedisError

from hotline.settings import ROOT
from tests.kit import free_port, wait_for


def _get(url: str, data: dict | None = None) -> dict:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, done, timeout: float, log) -> None:
    """tests.kit.wait_for, with the line's output when it times out."""
    try:
        wait_for(done, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; output:\n{log.read_text()[-3000:]}") from None


def _start(tmp_path) -> tuple[subprocess.Popen, int, int, object]:
    """`python -m hotline dev` on free ports, with a Redis of its own to start and a new database."""
    web_port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DATABASE_", "REDIS_", "SMS_"))}
    env.update(HOTLINE_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}", PORT=str(web_port),
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", SMS_PROVIDER="console", PYTHONUNBUFFERED="1")
    log = tmp_path / "dev.log"
    # A session of its own, so the test can press Ctrl-C on it as a terminal would: SIGINT
    # to the whole foreground process group.
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "dev"], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, web_port, redis_port, log


def _end(proc: subprocess.Popen, redis_port: int) -> None:
    """After a failure: kill what is left, Redis too (it runs in a session of its own)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if _listening(redis_port):
        try:
            Redis(port=redis_port, socket_timeout=5).shutdown(nosave=True)
        except RedisError:
            pass  # shutting down drops the connection
    shutil.rmtree(ROOT / "instance" / f"redis-{redis_port}", ignore_errors=True)


def test_dev_runs_the_whole_line_and_ctrl_c_stops_it_cleanly(tmp_path):
    proc, web_port, redis_port, log = _start(tmp_path)
    base = f"http://127.0.0.1:{web_port}"
    try:
        _wait("no simulator address printed", lambda: "Open the phone simulator" in log.read_text(), 90, log)
        assert "started Redis" in log.read_text() and _listening(redis_port)

        def healthy() -> bool:
            try:
                return _get(f"{base}/healthz")["ok"] is True
            except OSError:  # 503 (HTTPError is an OSError) until the worker has registered
                return False

        _wait("/healthz not ok", healthy, 60, log)
        assert _get(f"{base}/healthz")["workers"] == {"ok": True, "alive": 1}
        send = f"{base}/simulator/api/send"
        first = _get(send, {"mode": "ussd", "phone": "+85512999001", "text": ""})
        sid = first["session_id"]
        _get(send, {"mode": "ussd", "phone": "+85512999001", "text": "3", "session_id": sid, "full_text": "3"})
        _get(send, {"mode": "ussd", "phone": "+85512999001", "text": "14010101", "session_id": sid,
                    "full_text": "3*14010101"})
        last = _get(send, {"mode": "ussd", "phone": "+85512999001", "text": "2", "session_id": sid,
                           "full_text": "3*14010101*2"})
        assert last["body"].startswith("END ")

        def alerted() -> bool:
            return any(m["purpose"] == "alert" and m["contact"] == "pv-angkrong-village"
                       for m in _get(f"{base}/simulator/api/outbox")["messages"])

        _wait("the village leader was not alerted", alerted, 60, log)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=60) == 0
    finally:
        _end(proc, redis_port)
    out = log.read_text()
    assert "hotline: stopping" in out
    assert "Traceback" not in out, out[out.index("Traceback") - 500:][:3000]
    assert not _listening(web_port) and not _listening(redis_port)


@pytest.mark.parametrize("delay", [0.0, 0.7, 2.0], ids=["at-redis", "migrating", "later"])
def test_ctrl_c_while_starting_leaves_no_redis_behind(tmp_path, delay):
    """Redis runs in a session of its own (so it outlives web and worker on Ctrl-C): a Ctrl-C
    that comes while the line is still starting, at any step, must stop it too, even pressed twice."""
    proc, web_port, redis_port, log = _start(tmp_path)
    try:
        _wait("Redis not started", lambda: "started Redis" in log.read_text(), 60, log)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # impatient
        assert proc.wait(timeout=60) == 0
    finally:
        _end(proc, redis_port)
    assert "hotline: stopping" in log.read_text()
    assert not _listening(redis_port) and not _listening(web_port)
