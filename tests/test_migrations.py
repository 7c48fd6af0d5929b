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


def test_upgrading_a_database_that_holds_reports(tmp_path):
    """Migrations that rebuild tables (SQLite batch mode) keep the rows and their links."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'data.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reports (id, number, type, status, answers, language, channel, provider, created_at, "
                          "updated_at, routing) VALUES (1, '1234567', 'urgent', 'new', '{}', 'en', 'ussd', 'x', "
                          "'2026-01-01', '2026-01-01', 'routed')"))
        conn.execute(text("INSERT INTO outbound_messages (id, key, purpose, provider, recipient, recipient_hash, report_id, "
                          "body, urgent, status, attempts, created_at, updated_at) VALUES (1, 'k', 'alert', 'console', "
                          "x'00', 'h', 1, 'b', 0, 'sent', 1, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO alerts (id, report_id, contact_id, means, level, kind, outbound_id, created_at) "
                          "VALUES (1, 1, 'c', 'sms', 0, 'new', 1, '2026-01-01')"))
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT status, attempts FROM alerts")).one() == ("pending", 0)
        assert conn.execute(text("SELECT number FROM reports")).scalar() == "1234567"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
