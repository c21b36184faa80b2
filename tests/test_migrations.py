"""Migrations are the only way the schema changes: they build it, undo it, and match the models."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from bot.db import make_engine
from bot.migrate import _alembic_config, current_revision, head_revision, upgrade


def test_upgrade_downgrade_upgrade_and_models_match(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {
            "router_events",
            "rollup_minute",
            "rollup_hour",
            "slices",
            "cohort_assignments",
            "model_builds",
            "dead_letters",
            "pull_cursors",
        } <= tables
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.check(config)  # raises if the models and the migrations differ
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
