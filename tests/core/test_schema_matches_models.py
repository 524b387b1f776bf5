"""The migrated schema is the one the models describe, on SQLite and PostgreSQL: a migration that
forgets a column, an index or a NOT NULL shows here, not on a municipality's server."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  the tables register themselves on SQLModel.metadata
from storage.db import make_engine


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
