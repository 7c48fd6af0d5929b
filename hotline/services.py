"""Everything a process needs, built once from Settings: the web app and workers share it."""
from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path

from redis import Redis
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from hotline import replies, reporttypes
from hotline.db import make_engine, make_sessionmaker
from hotline.directory import Directory, load_directory
from hotline.engine import Engine, load_dialogue
from hotline.errors import ConfigError
from hotline.inbound import conversations
from hotline.settings import ROOT, Settings
from hotline.vault import Vault

log = logging.getLogger(__name__)

CONFIG_DIR = ROOT / "config"
"""Flows, words and keywords (operators edit these)."""


RELOAD_CHECK_SECONDS = 5.0
"""How often a process looks whether a configuration file changed (a few stat calls)."""


class Services:
    """Settings, database, Redis, vault, and the current directory and dialogue engine of one process.

    A changed directory, areas file or flow takes effect without a restart: the files are
    looked at every few seconds, loaded again in the background and swapped in only if
    they are valid; until then, and if they are not, the running configuration stays.
    """

    def __init__(self, settings: Settings, db: SqlEngine, session_factory: sessionmaker[Session], redis: Redis,
                 vault: Vault, directory: Directory, engine: Engine):
        self.settings, self.db, self.Session, self.redis, self.vault = settings, db, session_factory, redis, vault
        self._config = (directory, engine)
        self._fingerprint = _fingerprint(settings.directory_path, CONFIG_DIR, settings.voice_dir)
        self._checked_at = time.monotonic()
        self._reloading = threading.Lock()
        self.config_problems: list = []
        self.db_autocommit = db.execution_options(isolation_level="AUTOCOMMIT")
        """The same pool for single reads that need no transaction."""

    @property
    def directory(self) -> Directory:
        """The directory in force."""
        return self._current()[0]

    @directory.setter
    def directory(self, value: Directory) -> None:
        self._config = (value, self._config[1])

    @property
    def engine(self) -> Engine:
        """The dialogue engine in force."""
        return self._current()[1]

    def _current(self) -> tuple[Directory, Engine]:
        """The configuration, starting a background reload when a file has changed."""
        now = time.monotonic()
        if now - self._checked_at >= RELOAD_CHECK_SECONDS:
            self._checked_at = now
            if _fingerprint(self.settings.directory_path, CONFIG_DIR, self.settings.voice_dir) != self._fingerprint and self._reloading.acquire(blocking=False):
                threading.Thread(target=self._reload_in_background, daemon=True).start()
        return self._config

    def _reload_in_background(self) -> None:
        """Run `reload` and release the lock."""
        try:
            self.reload()
        finally:
            self._reloading.release()

    def reload(self) -> list:
        """Load the configuration files again; swap them in if valid. Returns the problems found."""
        fingerprint = _fingerprint(self.settings.directory_path, CONFIG_DIR, self.settings.voice_dir)
        try:
            self._config = load_config(self.settings)
            self.config_problems = []
            log.info("configuration reloaded: %d contacts", len(self._config[0].contacts))
        except ConfigError as exc:
            self.config_problems = exc.problems
            log.error("configuration not reloaded, %d problems (python -m hotline check lists them); "
                      "the previous configuration stays in force", len(exc.problems))
        self._fingerprint = fingerprint
        return self.config_problems

    def close(self) -> None:
        """Release connections."""
        self.db.dispose()
        conversations.close_lane(self.redis)
        self.redis.close()


def load_config(settings: Settings, config_dir: Path | None = None) -> tuple[Directory, Engine]:
    """Directory and dialogue engine (from CONFIG_DIR unless another folder is given); raises ConfigError
    listing every problem."""
    config_dir = CONFIG_DIR if config_dir is None else config_dir
    return _load_config(settings.directory_path, str(config_dir), settings.sms_idle_minutes * 60,
                        settings.voice_dir, settings.voice_idle_seconds,
                        _fingerprint(settings.directory_path, config_dir, settings.voice_dir))


def _fingerprint(directory_path: str, config_dir: Path, voice_dir: str | None = None) -> tuple:
    """Names, sizes and change times of every configuration file (and of the voice clips' folders): a
    changed file is loaded again."""
    from hotline.voice import catalogue

    files = [Path(directory_path), *sorted(Path(directory_path).parent.glob("*.csv")), *sorted(config_dir.rglob("*.yaml"))]
    if voice_dir is not None:
        files.append(Path(voice_dir) / catalogue.LANGUAGES_FILE)
    out = [catalogue.fingerprint(Path(voice_dir))] if voice_dir is not None else []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _load_config(directory_path: str, config_dir: str, idle_seconds: int, voice_dir: str, voice_idle_seconds: int,
                 fingerprint: tuple) -> tuple[Directory, Engine]:
    """Load (once per fingerprint) the directory, the dialogue, and how calls speak each language."""
    from hotline.check import CheckResult, measure_calls, measure_screens
    from hotline.voice import catalogue

    directory = load_directory(directory_path, reporttypes.load(config_dir))
    dialogue = load_dialogue(config_dir, directory.line)
    engine = Engine(dialogue, directory.gazetteer, idle_seconds)
    engine.voice_setup, engine.voice_report = catalogue.load(engine, Path(voice_dir), voice_idle_seconds)
    measured = CheckResult()
    measure_screens(engine, measured)  # a screen that does not fit its channel is an error too
    measure_calls(engine, measured)  # and so is a prompt that takes too long to hear
    measured.errors.extend(replies.problems(config_dir, directory.line))  # so is a prepared reply
    if measured.errors:
        raise ConfigError(measured.errors)
    return directory, engine


def build(settings: Settings, pre_ping: bool = True) -> Services:
    """Connect everything for one process (no network traffic until first use); `pre_ping`: see db.make_engine."""
    directory, engine = load_config(settings)
    db = make_engine(settings.database_url, pre_ping=pre_ping)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
    return Services(settings, db, make_sessionmaker(db), redis, Vault(settings.data_key), directory, engine)
