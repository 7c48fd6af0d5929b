"""Fixtures: a real Redis server, a real database (SQLite, or PostgreSQL when
HOTLINE_TEST_DATABASE_URL is set), the app and its client. No test reaches the internet."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from contextlib import suppress

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from sqlalchemy import select, text

from hotline import create_app, db, queues
from hotline.console import passwords
from hotline.models import Base, Report
from hotline.settings import Settings
from tests.fakes import FakeAfricasTalking, FakeKannel, FakeTwilio, loopback_only
from tests.kit import TEST_ENV, URGENT_STEPS, Receiver, free_port, redis_binary, run_worker, ussd

passwords.METHOD = "pbkdf2:sha256:1000"
"""Staff passwords hashed cheaply in this process: scrypt at the line's cost (about 0.1 s a hash) was
half the console tests' time. Processes the tests start hash as the line does, and
test_the_line_hashes_passwords_with_scrypt checks what the line ships."""


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL (CI's second pass) only the tests that use the database run again: a test with
    no `database_url` in its fixtures ran on SQLite and cannot answer differently here.
    HOTLINE_TEST_EVERY_TEST=1 runs all of them anyway."""
    if not os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres") \
            or os.environ.get("HOTLINE_TEST_EVERY_TEST") == "1":
        return
    same = [item for item in items if "database_url" not in getattr(item, "fixturenames", ())]
    if same:
        config.hook.pytest_deselected(items=same)
        items[:] = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]


@pytest.fixture(scope="session")
def redis_url():
    """A Redis server of the test session's own, on a free port."""
    port = free_port()
    proc = subprocess.Popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            Redis.from_url(url).ping()
            break
        except Exception:  # noqa: BLE001
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database, migrated once: PostgreSQL if HOTLINE_TEST_DATABASE_URL is set, else SQLite."""
    url = os.environ.get("HOTLINE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = db.make_engine(url)
    with engine.begin() as conn:  # start from nothing, so migrations are what is tested
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    db.upgrade(url)
    return url


@pytest.fixture
def settings(redis_url, database_url, monkeypatch) -> Settings:
    """Settings for one test, read the way production reads them (from an environment)."""
    env = dict(TEST_ENV, REDIS_URL=redis_url, DATABASE_URL=database_url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings.from_env(environ=env)


@pytest.fixture
def app(settings):
    """The app on clean tables and an empty Redis."""
    application = create_app({"settings": settings, "TESTING": True})
    s = application.extensions["hotline"]
    s.redis.flushdb()
    with s.db.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    from workers import context

    context.use(s)
    yield application
    context.use(None)
    s.close()


@pytest.fixture
def services(app):
    """The app's Services."""
    return app.extensions["hotline"]


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def live_worker(services):
    """An rq worker registered in the test Redis and beating every few seconds, as a running worker
    does: the web tests run no worker process, and /healthz is 503 while no worker is alive."""
    connection = Redis.from_url(services.settings.redis_url)  # rq changes its connection's socket timeout
    worker = SimpleWorker([queues.queue(n, connection) for n in queues.ALL], connection=connection)
    worker.register_birth()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(5):
            with suppress(RedisError):
                worker.heartbeat()

    beating = threading.Thread(target=beat, daemon=True)
    beating.start()
    yield worker
    stop.set()
    beating.join()
    with suppress(RedisError):
        worker.register_death()
    connection.close()


@pytest.fixture
def reports(client, services):
    """A recruiter report in Angkrong (partner NGO, reporter agreed to contact) and an urgent one (duty unit only)."""
    steps = ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
             "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*1")
    for full in steps:
        ussd(client, "ATUid_console1", full)
    for full in ("", *URGENT_STEPS):
        ussd(client, "ATUid_console2", full, phone="+85512345679")
    run_worker(services)
    with services.Session() as db:
        numbers = {r.type: r.number for r in db.scalars(select(Report))}
    return numbers


@pytest.fixture
def fake_twilio(monkeypatch):
    """A FakeTwilio for one test (its 'timeout' entries wait 1 s)."""
    loopback_only(monkeypatch)
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_at(monkeypatch):
    """A FakeAfricasTalking for one test (its 'timeout' entries wait 1 s)."""
    loopback_only(monkeypatch)
    with FakeAfricasTalking() as fake:
        yield fake


@pytest.fixture
def fake_kannel(monkeypatch):
    """A FakeKannel (its sendsms interface) for one test."""
    loopback_only(monkeypatch)
    with FakeKannel() as fake:
        yield fake


@pytest.fixture(scope="module")
def kannel_stack(tmp_path_factory):
    """Starts local SMPP stacks for a module: `start(line_url, **options)` returns a running
    hotline.gateway.stack.LocalStack (SMSC simulator + real bearerbox and smsbox) whose sms-service calls
    `line_url`/webhooks/kannel/sms; every stack started is stopped when the module ends. Skipped when
    Kannel is not installed, except under CI (CI set), where that fails (.ci/run installs it)."""
    from hotline.gateway import kannel

    if not kannel.installed():
        missing = f"Kannel is not installed ({kannel.BEARERBOX}, {kannel.SMSBOX}): {kannel.INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {missing}")
        pytest.skip(missing)
    if not os.environ.get("CI"):
        pytest.importorskip("smpplib", reason="smpplib is not installed: pip install -r requirements-dev.txt")
    from hotline.gateway.stack import LocalStack

    stacks = []

    def start(line_url: str, **options) -> LocalStack:
        stack = LocalStack(line_url, tmp_path_factory.mktemp("kannel"), **options)
        try:
            stack.start()
        except kannel.KannelError as exc:  # its message carries the boxes' logs
            pytest.fail(f"the local Kannel stack did not start: {exc}")
        stacks.append(stack)
        return stack

    yield start
    stopping = [threading.Thread(target=stack.stop) for stack in stacks]  # each waits on its boxes: together
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


@pytest.fixture
def receiver():
    """An agency's webhook endpoint on loopback (tests.kit.Receiver)."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def live_server(app):
    """The app over real HTTP on a free loopback port, served from a background thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
