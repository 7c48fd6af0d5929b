"""Alembic environment: the URL comes from the caller (hotline.db.upgrade) or DATABASE_URL."""
from __future__ import annotations

from alembic import context

from hotline.db import make_engine
from hotline.models import Base
from hotline.settings import Settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations() -> None:
    """Run migrations online against the configured database."""
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy and drop tables; SQLite would refuse while other tables point at them.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    engine.dispose()


run_migrations()
