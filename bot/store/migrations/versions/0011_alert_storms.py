"""alert_event read by rule and age: a storm is counted per rule over the last minute, old rows purged by age

Revision ID: 0011
Revises: 0010 (write path)
Create Date: 2026-12-07 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.create_index('ix_alert_event_rule_received_at', ['rule', 'received_at'], unique=False)
        batch_op.create_index('ix_alert_event_received_at', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_event_received_at')
        batch_op.drop_index('ix_alert_event_rule_received_at')
