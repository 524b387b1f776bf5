"""perf: an index behind staff search's substring match on the folded search text (PostgreSQL: a
pg_trgm GIN index when the extension can be created; SQLite: an FTS5 trigram table kept by
triggers), a partial index on the rows not yet folded, and a citizen's identities by kind

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04 21:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE ticket_search USING fts5(search_text, content='ticket', content_rowid='id',"
    " tokenize='trigram')",
    "INSERT INTO ticket_search(ticket_search) VALUES ('rebuild')",
    "CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket WHEN new.search_text IS NOT NULL BEGIN"
    " INSERT INTO ticket_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket WHEN old.search_text IS NOT NULL BEGIN"
    " INSERT INTO ticket_search(ticket_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);"
    " END",
    "CREATE TRIGGER ticket_search_au AFTER UPDATE OF search_text ON ticket BEGIN"
    " INSERT INTO ticket_search(ticket_search, rowid, search_text) SELECT 'delete', old.id, old.search_text"
    " WHERE old.search_text IS NOT NULL;"
    " INSERT INTO ticket_search(rowid, search_text) SELECT new.id, new.search_text"
    " WHERE new.search_text IS NOT NULL; END",
]


def _has_sqlite_trigram(bind: sa.Connection) -> bool:
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.s48_probe USING fts5(x, tokenize='trigram')")
    except sa.exc.OperationalError:
        return False  # SQLite older than 3.34: search scans, as before
    bind.exec_driver_sql("DROP TABLE temp.s48_probe")
    return True


def upgrade() -> None:
    bind = op.get_bind()
    op.create_index(
        "ix_ticket_search_pending",
        "ticket",
        ["id"],
        sqlite_where=sa.text("search_text IS NULL"),
        postgresql_where=sa.text("search_text IS NULL"),
    )
    # a citizen's phone among 100 000 identities (the call-back list, the caller lookup)
    op.create_index("ix_citizen_identity_citizen_kind", "citizen_identity", ["citizen_id", "kind"])
    if bind.dialect.name == "sqlite":
        if _has_sqlite_trigram(bind):
            for statement in SQLITE_UP:
                bind.exec_driver_sql(statement)
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return  # not allowed to create it: search scans, as before
    bind.exec_driver_sql("CREATE INDEX ix_ticket_search_trgm ON ticket USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("ticket_search_ai", "ticket_search_ad", "ticket_search_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS ticket_search")
    else:
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_ticket_search_trgm")
    op.drop_index("ix_citizen_identity_citizen_kind", table_name="citizen_identity")
    op.drop_index("ix_ticket_search_pending", table_name="ticket")
