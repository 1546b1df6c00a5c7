"""The schema is owned by Alembic: the revisions in versions/ are applied at start and by `python -m bot db upgrade`.

Alembic is configured here, in code, so the installed package needs no alembic.ini and always migrates the database
that DATABASE_URL names.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Alembic logs one INFO line per plugin as it is imported, at every start of the bot: set before the import.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Connection, inspect, text  # noqa: E402

from bot.store.db import make_engine  # noqa: E402

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
# The tables the baseline creates: a database holding them without alembic_version was made by create_all.
BASELINE_TABLES = frozenset({
    "user_role", "audit_event", "mfa_enrollment", "mfa_used_code", "mfa_failure", "mfa_enroll_token",
    "pending_action", "schedule_setting", "schedule_claim",
})
# pg_advisory_xact_lock key: every bot process that starts on one PostgreSQL database takes this lock to migrate.
_PG_LOCK_KEY = 0x50_52_41_43_4F_4D_01  # "SORACOM" + 1: an arbitrary constant, unique to this application


class UnknownSchema(RuntimeError):
    """Some of the baseline tables exist but there is no alembic_version: not a database this bot made."""


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head() or ""


def upgrade(url: str) -> str:
    """Brings the database to the newest revision and returns it; a database made by create_all is stamped first.

    Safe when several processes start at once: they migrate one after the other under a database lock.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection, _migration_lock(connection):
            _stamp_if_made_by_create_all(connection)
            command.upgrade(config(connection), "head")
            return _revision(connection) or ""
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _revision(connection)
    finally:
        engine.dispose()


def revision(message: str) -> Path:
    """Autogenerates a revision into versions/ from the difference between the models and the newest revision."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                script = command.revision(config(connection), message, autogenerate=True, rev_id=_next_rev_id())
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def _next_rev_id() -> str:
    numbers = [int(rev.revision) for rev in ScriptDirectory.from_config(config()).walk_revisions()
               if re.fullmatch(r"\d+", rev.revision)]
    return f"{max(numbers, default=0) + 1:04d}"


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """One transaction around the check, the stamp and the upgrade, holding a lock that a second process waits on."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:
        # Takes SQLite's write lock now (busy_timeout waits for it) rather than at the first write, after the check.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _stamp_if_made_by_create_all(connection: Connection) -> None:
    existing = set(inspect(connection).get_table_names())
    if "alembic_version" in existing or not existing & BASELINE_TABLES:
        return
    missing = BASELINE_TABLES - existing
    if missing:
        raise UnknownSchema(
            f"the database has some of the bot's tables but not {', '.join(sorted(missing))}, and no "
            "alembic_version; it was not made by this bot, so it is left as it is"
        )
    log.info("database made before migrations (no alembic_version): stamped as revision %s, data kept", BASELINE)
    command.stamp(config(connection), BASELINE)
