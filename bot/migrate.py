"""Apply Alembic migrations: the only way tierbot's schema changes."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_PACKAGE_DIR = Path(__file__).resolve().parent


def _alembic_config() -> Config:
    """Find the migrations shipped in the wheel, or those of a source checkout."""
    for base in (_PACKAGE_DIR, _PACKAGE_DIR.parent):
        if (base / "migrations" / "env.py").is_file():
            config = (
                Config(str(base / "alembic.ini")) if (base / "alembic.ini").is_file() else Config()
            )
            config.set_main_option("script_location", str(base / "migrations"))
            config.attributes["configure_logging"] = False
            return config
    raise RuntimeError("tierbot's migrations directory was not found next to the package")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database up to `revision`."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def schema_lag(engine: Engine) -> str | None:
    """None when the database is at the head revision, else what is wrong, in words."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    return (
        f"the database schema is at revision {current or 'none'}, this tierbot needs {head}: "
        "run `tierbot db upgrade` (the migration Job)"
    )


def ensure_schema(engine: Engine) -> None:
    """Upgrade when the database is behind; commands that need the schema call this."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
