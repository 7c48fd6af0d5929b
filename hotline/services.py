"""Everything a process needs, built once from Settings: the web app and workers share it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from hotline.db import make_engine, make_sessionmaker
from hotline.directory import Directory, load_directory
from hotline.engine import Engine, load_dialogue
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
    directory = load_directory(settings.directory_path)
    dialogue = load_dialogue(config_dir, directory.line)
    return directory, Engine(dialogue, directory.gazetteer, settings.sms_idle_minutes * 60)


def build(settings: Settings) -> Services:
    """Connect everything for one process (no network traffic until first use)."""
    directory, engine = load_config(settings)
    db = make_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
    return Services(settings, db, make_sessionmaker(db), redis, Vault(settings.data_key), directory, engine)
