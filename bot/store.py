"""The store as the rest of tierbot sees it: an engine, a session factory, the schema up to date."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_session_factory
from bot.migrate import ensure_schema
from bot.settings import Settings


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    def ping(self) -> None:
        """Raise if the database cannot be reached (for /readyz)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Connect to the configured database, applying pending migrations unless told not to."""
    engine = make_engine(settings.database_url)
    if migrate:
        ensure_schema(engine)
    return Store(engine=engine, sessions=make_session_factory(engine))
