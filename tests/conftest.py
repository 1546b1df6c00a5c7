from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import MetaData

from bot.config import Settings
from bot.security.roles import Role
from bot.services.roles import set_role
from bot.store import Database

SHARED = Path(__file__).resolve().parents[2] / "shared"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")

ADMIN, OPERATOR, VIEWER = "U_ADMIN", "U_OP", "U_VIEW"


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see only the configuration they set: no SORACOM or Slack credentials from the environment."""
    for name in list(os.environ):
        if name.startswith(("SORACOM_", "SLACK_", "BOT_", "BILL_")) or name in ("DATABASE_URL", "PORT"):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}); it holds the official specs these tests check against")
    return SHARED


@pytest.fixture(scope="session")
def raw_spec() -> dict[str, Any]:
    """The official SORACOM spec, parsed once per session (it is about 1 MB of YAML)."""
    path = SHARED / "soracom-openapi" / "soracom-api.en.yaml"
    if not path.is_file():
        pytest.skip(f"../shared is absent ({path}); it holds the official SORACOM spec")
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="session")
def openapi(raw_spec: dict[str, Any]) -> Any:
    from openapi_core import Config, OpenAPI

    # The official file has a few defaults outside their own enums (openapi-spec-validator refuses it): it is used
    # as published, unchecked, and only the bodies are validated against it.
    return OpenAPI.from_dict(raw_spec, config=Config(spec_validator_cls=None))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on a real PostgreSQL (TEST_DATABASE_URL; .ci/run starts one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set; .ci/run sets it to a local PostgreSQL")
    db = Database(POSTGRES_URL)
    everything = MetaData()
    everything.reflect(db.engine)  # alembic_version and any table a test made, not only the models'
    everything.drop_all(db.engine)
    db.dispose()
    yield POSTGRES_URL


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        BOT_DATA_DIR=str(tmp_path / "data"),
        BOT_ADMINS=ADMIN,
        BOT_PUBLIC_URL="https://bot.example.test",
        BOT_ALERT_STORM_UPDATE_SECONDS=0,  # tests wait for each delivery's work; tests/test_alerts.py checks the pace
    )


@pytest.fixture
def fake() -> Iterator["FakeSlack"]:  # noqa: F821
    """The local Slack stand-in alone, for tests that run the bot some other way than the harness."""
    from bot.localslack import FakeSlack

    with FakeSlack() as slack:
        yield slack



# SORACOM as a process (the process tests), and a database with its schema; test modules with an in-process
# `emulator` or a `db` of their own override these.

@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Any]:
    """SORACOM as a process of its own (`python -m bot emulator`)."""
    from tests.processes import Emulator

    started = Emulator(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The test's database with its schema made."""
    database = Database(database_url)
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    from tests.clock import Clock

    return Clock()


@pytest.fixture
async def harness(settings: Settings, clock) -> AsyncIterator["Harness"]:  # type: ignore[name-defined]  # noqa: F821
    """The whole bot: signed requests in, the emulator behind it, the stand-in as Slack; an operator and a viewer."""
    from bot.local import LocalBot
    from tests.harness import Harness, assert_valid_slack_payloads

    local = LocalBot(settings, clock=clock)
    await local.start()
    assert local.rt is not None
    await set_role(local.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
    await set_role(local.rt.db, VIEWER, Role.viewer, granted_by=ADMIN)
    try:
        yield Harness(local, clock)
        assert_valid_slack_payloads(local.fake)
    finally:
        await local.stop()
