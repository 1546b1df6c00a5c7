"""fleet snapshot at 100,000 SIMs: rows keyed by generation (a refresh writes beside the current snapshot), tags
in rows of their own, indexes for the selectors and the Home's figures

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:50:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("imsi", "sim_id", "name", "status", "online", "last_seen_at", "group_id", "speed_class", "tags_json",
           "traffic_month", "traffic_bytes", "traffic_read_at")
TAG_LENGTH = 200


def _sim_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column('generation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('imsi', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('sim_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('online', sa.Boolean(), nullable=True),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('group_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('speed_class', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('tags_json', sa.Text(), server_default='{}', nullable=False),
        sa.Column('traffic_month', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column('traffic_bytes', sa.BigInteger(), nullable=True),
        sa.Column('traffic_read_at', sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    # Under 0008 every row was the current snapshot (a refresh overwrote rows in place): they become its generation.
    columns = ", ".join(COLUMNS)
    op.execute(f"CREATE TABLE fleet_sim_keep AS SELECT {columns} FROM fleet_sim")
    with op.batch_alter_table('fleet_sim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fleet_sim_status'))
        batch_op.drop_index(batch_op.f('ix_fleet_sim_sim_id'))
        batch_op.drop_index(batch_op.f('ix_fleet_sim_name'))
        batch_op.drop_index(batch_op.f('ix_fleet_sim_generation'))
    op.drop_table('fleet_sim')
    op.create_table('fleet_sim', *_sim_columns(), sa.PrimaryKeyConstraint('generation', 'imsi'))
    op.execute(f"INSERT INTO fleet_sim (generation, {columns}) SELECT "
               f"COALESCE((SELECT generation FROM fleet_snapshot WHERE name = 'fleet'), ''), {columns} "
               f"FROM fleet_sim_keep")
    op.drop_table('fleet_sim_keep')
    with op.batch_alter_table('fleet_sim', schema=None) as batch_op:
        batch_op.create_index('ix_fleet_sim_group', ['generation', 'group_id', 'status', 'imsi'], unique=False)
        batch_op.create_index('ix_fleet_sim_name', ['generation', 'name'], unique=False)
        batch_op.create_index('ix_fleet_sim_seen', ['generation', 'last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fleet_sim_sim_id'), ['sim_id'], unique=False)
        batch_op.create_index('ix_fleet_sim_status', ['generation', 'status', 'imsi'], unique=False)
        batch_op.create_index('ix_fleet_sim_traffic', ['generation', 'traffic_month', 'traffic_bytes'], unique=False,
                              sqlite_where=sa.text('traffic_bytes IS NOT NULL'),
                              postgresql_where=sa.text('traffic_bytes IS NOT NULL'))
    with op.batch_alter_table('fleet_snapshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('figures_json', sa.Text(), nullable=True))

    tags = op.create_table('fleet_sim_tag',
    sa.Column('generation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('imsi', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('generation', 'imsi', 'key')
    )
    with op.batch_alter_table('fleet_sim_tag', schema=None) as batch_op:
        batch_op.create_index('ix_fleet_sim_tag_value', ['generation', 'key', 'value', 'imsi'], unique=False)
    assert tags is not None
    bind = op.get_bind()
    rows = []
    for generation, imsi, tags_json in bind.execute(sa.text("SELECT generation, imsi, tags_json FROM fleet_sim")):
        try:
            held = json.loads(tags_json or "{}")
        except ValueError:
            continue
        rows += [{"generation": generation, "imsi": imsi, "key": str(key), "value": str(value)}
                 for key, value in (held.items() if isinstance(held, dict) else ())
                 if key != "name" and len(str(key)) <= TAG_LENGTH and len(str(value)) <= TAG_LENGTH]
    if rows:
        op.bulk_insert(tags, rows)


def downgrade() -> None:
    with op.batch_alter_table('fleet_snapshot', schema=None) as batch_op:
        batch_op.drop_column('figures_json')
    with op.batch_alter_table('fleet_sim_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_fleet_sim_tag_value')
    op.drop_table('fleet_sim_tag')
    columns = ", ".join(COLUMNS)
    op.execute(f"CREATE TABLE fleet_sim_keep AS SELECT generation, {columns} FROM fleet_sim "
               f"WHERE generation = (SELECT generation FROM fleet_snapshot WHERE name = 'fleet')")
    with op.batch_alter_table('fleet_sim', schema=None) as batch_op:
        batch_op.drop_index('ix_fleet_sim_traffic')
        batch_op.drop_index('ix_fleet_sim_status')
        batch_op.drop_index(batch_op.f('ix_fleet_sim_sim_id'))
        batch_op.drop_index('ix_fleet_sim_seen')
        batch_op.drop_index('ix_fleet_sim_name')
        batch_op.drop_index('ix_fleet_sim_group')
    op.drop_table('fleet_sim')
    op.create_table('fleet_sim', *_sim_columns(), sa.PrimaryKeyConstraint('imsi'))
    op.execute(f"INSERT INTO fleet_sim (generation, {columns}) SELECT generation, {columns} FROM fleet_sim_keep")
    op.drop_table('fleet_sim_keep')
    with op.batch_alter_table('fleet_sim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fleet_sim_generation'), ['generation'], unique=False)
        batch_op.create_index(batch_op.f('ix_fleet_sim_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_fleet_sim_sim_id'), ['sim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fleet_sim_status'), ['status'], unique=False)
