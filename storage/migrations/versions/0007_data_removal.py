"""data removal record (retention sweep, erasure); indexes a citizen's erasure looks rows up by

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0007'
down_revision: str | None = '0006'
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
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_citizen_id'), ['citizen_id'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipient'), ['recipient'], unique=False)
    with op.batch_alter_table('call_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_log_caller'), ['caller'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_log_caller'))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipient'))
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_citizen_id'))
    with op.batch_alter_table('data_removal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_removal_action'))
        batch_op.drop_index(batch_op.f('ix_data_removal_at'))
    op.drop_table('data_removal')
