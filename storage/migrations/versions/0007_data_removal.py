"""data removal record (retention sweep, erasure)

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0007'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'data_removal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(), nullable=False),
        sa.Column('action', sa.String(), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('data_removal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_removal_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_removal_action'), ['action'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('data_removal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_removal_action'))
        batch_op.drop_index(batch_op.f('ix_data_removal_at'))
    op.drop_table('data_removal')
