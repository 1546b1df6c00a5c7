"""alert storms per rule and limit, their summaries taken over: alert_event.limit_mib (a storm folds the deliveries
of one rule and one limit), alert_storm.posting_at (when a process took on posting the summary: one that died or
failed leaves it to the next delivery)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limit_mib', sa.Integer(), nullable=True))
    with op.batch_alter_table('alert_storm', schema=None) as batch_op:
        batch_op.add_column(sa.Column('posting_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alert_storm', schema=None) as batch_op:
        batch_op.drop_column('posting_at')
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.drop_column('limit_mib')
