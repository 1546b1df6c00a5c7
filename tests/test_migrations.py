"""Alembic owns the schema: the baseline equals the models, old databases are stamped, processes migrate in turn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, Table, inspect, text
from sqlmodel import Session, SQLModel, select

from bot.config import Settings
from bot.runtime import Runtime
from bot.store import Database, migrations
from bot.store.db import make_engine
from bot.store.tables import AuditEvent, UserRole

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def bot_db(*args: str, url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "bot", "--log-level", "WARNING", "db", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_bot_db(*args: str, url: str, cwd: Path) -> str:
    out, err = bot_db(*args, url=url, cwd=cwd).communicate(timeout=60)
    assert not err, err
    return out.strip()


def test_models_and_migrations_agree(database_url: str) -> None:
    """What `db revision` would autogenerate against a database at head: nothing."""
    assert migrations.upgrade(database_url) == migrations.head()
    with connect(database_url) as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


async def test_the_bot_starting_on_a_database_made_before_migrations_stamps_it_and_keeps_its_rows(
        database_url: str, settings: Settings) -> None:
    with connect(database_url) as connection:  # the tables create_all made before the bot had migrations
        command.upgrade(migrations.config(connection), migrations.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
        connection.commit()
    engine = make_engine(database_url)
    with Session(engine) as session:
        session.add(UserRole(slack_user_id="U_KEPT", role="admin", granted_by="U_ROOT"))
        session.commit()
    with engine.begin() as connection:  # the columns of then: today's model has more
        connection.execute(text("INSERT INTO audit_event (at, slack_user_id, command, action, result) "
                                "VALUES (CURRENT_TIMESTAMP, 'U_KEPT', '/sim list', 'sim.list', 'ok')"))
    engine.dispose()

    runtime = Runtime.create(settings.model_copy(update={"DATABASE_URL": database_url}))
    await runtime.aclose()

    with connect(database_url) as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            migrations.head()]
        with Session(connection) as session:
            assert [(r.slack_user_id, r.role) for r in session.exec(select(UserRole))] == [("U_KEPT", "admin")]
            assert [a.action for a in session.exec(select(AuditEvent))] == ["sim.list"]


def test_a_database_with_only_some_of_the_tables_is_left_alone(database_url: str) -> None:
    with connect(database_url) as connection:
        connection.execute(text("CREATE TABLE user_role (slack_user_id VARCHAR(32) PRIMARY KEY)"))
        connection.commit()
    with pytest.raises(migrations.UnknownSchema, match="not audit_event, mfa_enroll_token"):
        migrations.upgrade(database_url)
    with connect(database_url) as connection:
        assert inspect(connection).get_table_names() == ["user_role"]


def test_database_create_schema_migrates(database_url: str) -> None:
    """Other tests and tools make their databases with Database.create_schema: the same revisions as at start."""
    db = Database(database_url)
    db.create_schema()
    db.dispose()
    assert migrations.current(database_url) == migrations.head()


def test_db_upgrade_and_current_as_processes(database_url: str, tmp_path: Path) -> None:
    head = migrations.head()
    assert run_bot_db("current", url=database_url, cwd=tmp_path) == f"none (head is {head})"
    assert run_bot_db("upgrade", url=database_url, cwd=tmp_path) == f"{head} (head)"
    assert run_bot_db("current", url=database_url, cwd=tmp_path) == f"{head} (head)"
    assert run_bot_db("upgrade", url=database_url, cwd=tmp_path) == f"{head} (head)"  # a second run changes nothing
    with connect(database_url) as connection:
        assert set(inspect(connection).get_table_names()) == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_a_process_starting_while_another_migrates_waits_for_it(database_url: str, tmp_path: Path) -> None:
    """The test holds the lock a migrating process holds; a second `db upgrade` waits, then finds the work to do."""
    with connect(database_url) as connection:
        with migrations._migration_lock(connection):
            waiting = bot_db("upgrade", url=database_url, cwd=tmp_path)
            time.sleep(1.5)
            assert waiting.poll() is None, waiting.communicate()
            assert inspect(connection).get_table_names() == []
    out, err = waiting.communicate(timeout=60)
    assert (out.strip(), err) == (f"{migrations.head()} (head)", "")


def test_two_processes_starting_together_both_reach_head(database_url: str, tmp_path: Path) -> None:
    racers = [bot_db("upgrade", url=database_url, cwd=tmp_path) for _ in range(3)]
    results = [racer.communicate(timeout=60) for racer in racers]
    assert results == [(f"{migrations.head()} (head)\n", "")] * 3
    with connect(database_url) as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_revisions_form_one_line_from_the_baseline() -> None:
    """Two engineers adding a revision each on top of the same one make two heads: renumber one onto the other."""
    script = ScriptDirectory.from_config(migrations.config())
    assert len(script.get_heads()) == 1, script.get_heads()
    assert [rev.revision for rev in script.walk_revisions()][-1] == migrations.BASELINE


def test_db_revision_autogenerates_a_new_table_on_top_of_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's command, in a copy of the migrations folder: a table added to the models becomes a revision."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", copy)
    head = int(migrations.head())
    probe = Table("probe_job", SQLModel.metadata, Column("id", Integer, primary_key=True))
    try:
        path = migrations.revision("add probe job")
    finally:
        SQLModel.metadata.remove(probe)
    source = path.read_text()
    assert path.parent == copy / "versions"
    assert f"revision: str = '{head + 1:04d}'" in source and f"down_revision: str | None = '{head:04d}'" in source
    assert "op.create_table('probe_job'" in source

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    assert migrations.upgrade(url) == f"{head + 1:04d}"
    with connect(url) as connection:
        assert "probe_job" in inspect(connection).get_table_names()

