"""mfa: 10 wrong codes in 24 hours lock until an admin resets (mfa_enrollment.blocked_at)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:34:22.944056
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString for str fields)
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('mfa_enrollment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mfa_enrollment', schema=None) as batch_op:
        batch_op.drop_column('blocked_at')
