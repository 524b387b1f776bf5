"""The migrated schema is the one the models describe, on SQLite and PostgreSQL: a migration that
forgets a column, an index or a NOT NULL shows here, not on a municipality's server."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  the tables register themselves on SQLModel.metadata
from storage.db import make_engine

# Staff search's index is built per dialect by migration 0006 and read by gateway/search.py in SQL:
# SQLite's FTS5 trigram table (and the shadow tables FTS5 makes), PostgreSQL's pg_trgm GIN index.
SEARCH_INDEX = ("ticket_search", "ix_ticket_search_trgm")


def _modelled(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    return not (name or "").startswith(SEARCH_INDEX)


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _modelled})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
