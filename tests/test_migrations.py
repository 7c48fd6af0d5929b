"""The migrations build exactly the schema the models describe, and run down and up again."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from hotline.settings import ROOT


def test_models_and_migrations_agree(tmp_path):
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(cfg, "head")
    command.check(cfg)                      # raises if autogenerate would find a difference
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
