"""audit rows carry a key of their own (written twice, they are one row) and are intents while open; worker beats

Revision ID: 0010
Revises: 0009 (remote access)
Create Date: 2026-12-07 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_record_key'), ['record_key'], unique=True)
        batch_op.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_owner'), ['owner'], unique=False)
        batch_op.add_column(sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('readback_json', sa.Text(), nullable=True))
    with op.batch_alter_table('seen_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_seen_request_owner'), ['owner'], unique=False)
        batch_op.add_column(sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('command', sa.Text(), nullable=True))
    op.create_table('worker_beat',
    sa.Column('worker_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id')
    )


def downgrade() -> None:
    op.drop_table('worker_beat')
    with op.batch_alter_table('seen_request', schema=None) as batch_op:
        batch_op.drop_column('command')
        batch_op.drop_column('channel_id')
        batch_op.drop_column('user_id')
        batch_op.drop_index(batch_op.f('ix_seen_request_owner'))
        batch_op.drop_column('owner')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('readback_json')
        batch_op.drop_column('job_id')
        batch_op.drop_index(batch_op.f('ix_audit_event_owner'))
        batch_op.drop_column('owner')
        batch_op.drop_index(batch_op.f('ix_audit_event_record_key'))
        batch_op.drop_column('record_key')
