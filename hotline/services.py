"""Everything a process needs, built once from Settings: the web app and workers share it."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from hotline.db import make_engine, make_sessionmaker
from hotline.directory import Directory, load_directory
from hotline.engine import Engine, load_dialogue
from hotline.errors import ConfigError
from hotline.settings import ROOT, Settings
from hotline.vault import Vault

log = logging.getLogger(__name__)

CONFIG_DIR = ROOT / "config"
"""Flows, words and keywords (operators edit these)."""


@dataclass
class Services:
    """Settings, database, Redis, vault, directory and dialogue engine of one process."""

    settings: Settings
    db: SqlEngine
    Session: sessionmaker[Session]
    redis: Redis
    vault: Vault
    directory: Directory
    engine: Engine

    def close(self) -> None:
        """Release connections."""
        self.db.dispose()
        self.redis.close()


def load_config(settings: Settings, config_dir: Path = CONFIG_DIR) -> tuple[Directory, Engine]:
    """Directory and dialogue engine; raises ConfigError listing every problem."""
    return _load_config(settings.directory_path, str(config_dir), settings.sms_idle_minutes * 60,
                        _fingerprint(settings.directory_path, config_dir))


def _fingerprint(directory_path: str, config_dir: Path) -> tuple:
    """Names, sizes and change times of every configuration file: a changed file is loaded again."""
    files = [Path(directory_path), *sorted(Path(directory_path).parent.glob("*.csv")), *sorted(config_dir.rglob("*.yaml"))]
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _load_config(directory_path: str, config_dir: str, idle_seconds: int, fingerprint: tuple) -> tuple[Directory, Engine]:
    """Load (once per fingerprint) the directory and the dialogue."""
    from hotline.check import CheckResult, measure_screens

    directory = load_directory(directory_path)
    dialogue = load_dialogue(config_dir, directory.line)
    engine = Engine(dialogue, directory.gazetteer, idle_seconds)
    measured = CheckResult()
    measure_screens(engine, measured)  # a screen that does not fit its channel is an error too
    if measured.errors:
        raise ConfigError(measured.errors)
    return directory, engine


def build(settings: Settings) -> Services:
    """Connect everything for one process (no network traffic until first use)."""
    directory, engine = load_config(settings)
    db = make_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
    return Services(settings, db, make_sessionmaker(db), redis, Vault(settings.data_key), directory, engine)
