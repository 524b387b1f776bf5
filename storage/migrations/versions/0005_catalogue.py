"""catalogue in the database: utilities, categories (disabled ones kept for their tickets) and one
state row with the version every process checks and the coordinator's escalation addresses; filled
from the TOML catalogue on the gateway's first start (gateway/catalogue.py), not here

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_utility",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("escalation_emails", sa.JSON(), nullable=False),
        sa.Column("webhook_url", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("webhook_secret_env", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "catalogue_category",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("utility", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("open311_group", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["utility"], ["catalogue_utility.code"]),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("escalation_emails", sa.JSON(), nullable=False),
        sa.Column("changed_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened_at", storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reopen_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("reopen_note")
        batch_op.drop_column("reopened_at")
    op.drop_table("catalogue_state")
    op.drop_table("catalogue_category")
    op.drop_table("catalogue_utility")
