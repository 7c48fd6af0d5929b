"""Scale-out and PostgreSQL drills: several web processes (gunicorn) and workers sharing one
Redis and one PostgreSQL, under load. They run in CI's PostgreSQL pass (HOTLINE_TEST_DATABASE_URL);
the restart drill also needs HOTLINE_TEST_PG_RESTART, the command that restarts the server."""
from __future__ import annotations

import collections
import concurrent.futures
import os
import subprocess
import time
import urllib.parse

import pytest
import requests
from sqlalchemy import select

from hotline.models import OutboundMessage, Report
from hotline.settings import ROOT
from tests.fakes import FakeTwilio, loopback_only
from tests.kit import TEST_ENV, URGENT_STEPS, Workers, free_port, wait_for

pytestmark = [pytest.mark.drill, pytest.mark.postgres]

AT_TOKEN = TEST_ENV["AT_WEBHOOK_TOKEN"]
DUTY_UNIT, VILLAGE_LEADER = "+85512888888", "+85512000001"


@pytest.fixture
def postgres(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set HOTLINE_TEST_DATABASE_URL (CI's second pass does)")
    return settings.database_url


class Webs:
    """gunicorn web processes as the Procfile runs them, each on its own port."""

    def __init__(self, env: dict, log_dir):
        self.env, self.log_dir, self.procs, self.urls = env, log_dir, [], []

    def start(self, count: int) -> None:
        for i in range(count):
            port = free_port()
            log = open(self.log_dir / f"web-{i}.log", "w")
            self.procs.append(subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "gunicorn") if (ROOT / ".venv" / "bin" / "gunicorn").exists() else "gunicorn",
                 "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "20", "--preload",
                 "hotline:create_app()"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            wait_for(lambda: _up(url), 60, f"web at {url}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=20)


def _up(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def ussd_report(urls: list[str], i: int) -> tuple[str, str | None]:
    """An urgent report in Angkrong over USSD, its steps spread over the web processes: (status, number)."""
    phone, session = f"+8559{i:07d}", f"ATUid_scale_{i}"
    answer = None
    for step, text in enumerate(("", *URGENT_STEPS)):
        url = urls[(i + step) % len(urls)] + f"/webhooks/africastalking/ussd?token={AT_TOKEN}"
        body = urllib.parse.urlencode({"sessionId": session, "phoneNumber": phone, "serviceCode": "*384*123#",
                                       "networkCode": "99999", "text": text})
        for _ in range(20):  # a provider would try again; a 503 during a restart is an answer, not a loss
            try:
                response = requests.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                         timeout=15)
            except requests.RequestException:
                time.sleep(0.5)
                continue
            assert response.status_code < 500 or response.status_code == 503, response.text
            if response.status_code == 200:
                answer = response.text
                break
            time.sleep(0.5)
        else:
            return "gave up", None
    assert answer.startswith("END "), answer
    return "ok", _number_in(answer)


def _number_in(text: str) -> str | None:
    import re

    found = re.findall(r"\b\d{7}\b", text)
    return found[0] if found else None


@pytest.fixture
def cluster(app, settings, postgres, monkeypatch, tmp_path):
    """Fake Twilio; factories for web processes and workers sharing this test's Redis and PostgreSQL."""
    loopback_only(monkeypatch)
    fake = FakeTwilio()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")}
    env.update(TEST_ENV, REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url, **fake.env(),
               HOTLINE_RETRY_INTERVALS="1,1,1,1,1", HOTLINE_SWEEP_SECONDS="1", HOTLINE_SWEEP_GRACE_SECONDS="2",
               HOTLINE_CLAIM_SECONDS="5", HOTLINE_PROVIDER_TIMEOUT="3", HOTLINE_RATE_LIMIT_PER_MINUTE="100000",
               PYTHONUNBUFFERED="1")
    env.pop("PUBLIC_BASE_URL", None)
    webs, workers = Webs(env, tmp_path), Workers(env, tmp_path)
    yield fake, webs, workers
    webs.stop()
    workers.stop_all()
    fake.close()


def delivered_once(services, fake, numbers: list[str]) -> None:
    """Every report is stored and routed, and each of its two alerts reached the provider once."""
    with services.Session() as session:
        stored = {r.number: r for r in session.scalars(select(Report))}
    assert set(numbers) <= set(stored), "a report the reporter was told about is missing"
    wait_for(lambda: len(fake.accepted) >= 2 * len(stored), 120, "every alert at the provider")
    time.sleep(3)  # a doubled send would show up now
    counts = collections.Counter(m["to"] for m in fake.accepted)
    assert counts == {DUTY_UNIT: len(stored), VILLAGE_LEADER: len(stored)}, counts
    with services.Session() as session:
        assert set(session.scalars(select(Report.routing))) == {"routed"}
        assert set(session.scalars(select(OutboundMessage.status).where(OutboundMessage.purpose == "alert"))) <= {"queued", "sent", "delivered"}


def test_two_web_processes_and_three_workers_under_load(services, cluster):
    fake, webs, workers = cluster
    webs.start(2)
    for _ in range(3):
        workers.start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: ussd_report(webs.urls, i), range(60)))
    assert [r[0] for r in results] == ["ok"] * 60
    numbers = [r[1] for r in results]
    assert len(set(numbers)) == 60
    delivered_once(services, fake, numbers)


def test_postgresql_restarted_under_load(services, cluster):
    command = os.environ.get("HOTLINE_TEST_PG_RESTART")
    if not command:
        pytest.skip("set HOTLINE_TEST_PG_RESTART to the command that restarts PostgreSQL (.ci/run does)")
    fake, webs, workers = cluster
    webs.start(2)
    for _ in range(2):
        workers.start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(ussd_report, webs.urls, i) for i in range(40)]
        time.sleep(1.0)
        subprocess.run(command, shell=True, check=True, timeout=120)   # the database goes away mid-load
        results = [f.result() for f in futures]
    # This process's pool (the web app's, which does not pre-ping) still holds connections from
    # before the restart: start afresh to check, as a web process does after its first failure.
    services.db.dispose()
    numbers = [n for status, n in results if status == "ok"]
    assert len(numbers) >= 30, results                                # the line came back and answered
    delivered_once(services, fake, numbers)


def test_a_webhook_step_runs_again_when_its_pooled_connection_was_killed(postgres, client, services):
    """The web process does not pre-ping its connections: a step that meets a dead one runs again."""
    from sqlalchemy import text

    from hotline.db import make_engine
    from tests.kit import ussd

    ussd(client, "ATUid_k0", "3*14010101*2")  # the pool now holds a connection
    with services.db_autocommit.connect() as conn:
        mine = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    killer = make_engine(postgres)  # a connection of its own kills every other backend of this database
    with killer.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    killer.dispose()
    answer = ussd(client, "ATUid_k1", "3*14010101*2")
    assert answer.startswith("END ")
    with services.Session() as session:
        assert len(session.scalars(select(Report)).all()) == 2
    with services.db_autocommit.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != mine
