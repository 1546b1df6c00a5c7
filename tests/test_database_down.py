"""The database down (a PostgreSQL of the test's own, stopped): users are told plainly that nothing was done, modal
submissions and SORACOM's Event Handler requests get 503 (SORACOM retries), and all works again once it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import Settings
from bot.local import LocalBot
from tests.conftest import ADMIN
from tests.harness import Harness
from tests.own_postgres import OwnPostgres
from tests.test_alerts import OPS, SENSOR_02, cards, event, send

UNAVAILABLE = "The bot's database is unavailable; nothing was done."


@pytest.fixture
def postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    yield server
    server.remove()


@pytest.fixture
async def bot(postgres: OwnPostgres, settings: Settings, clock) -> AsyncIterator[Harness]:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"DATABASE_URL": postgres.url, "BOT_EVENTS_TOKEN": "events-token-test"})
    async with LocalBot(settings, clock=clock) as local:
        yield Harness(local, clock)


async def test_a_command_says_the_database_is_unavailable_and_nothing_was_done(bot: Harness,
                                                                               postgres: OwnPostgres) -> None:
    await bot.command("/soracom role U_NEW operator", user=ADMIN)
    postgres.stop()
    bot.fake.clear()
    response = await bot.command("/sim tag sensor-02 site=osaka", user=ADMIN)
    assert response.status_code == 200
    text = bot.all_text()
    assert UNAVAILABLE in text and "Something went wrong" not in text
    assert "site" not in bot.emulator.subscribers[SENSOR_02]["tags"]  # nothing was done at SORACOM either


async def test_a_modal_submission_is_503_while_the_database_is_down(bot: Harness, postgres: OwnPostgres) -> None:
    await bot.command("/mfa enroll", user=ADMIN)
    view = bot.latest_view()
    postgres.stop()
    response = await bot.submit_code("123456", user=ADMIN, view=view)
    assert response.status_code == 503


async def test_a_soracom_event_is_503_while_the_database_is_down_and_taken_on_retry(bot: Harness,
                                                                                    postgres: OwnPostgres) -> None:
    await bot.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    postgres.stop()
    response = await send(bot, event(SENSOR_02))
    assert response.status_code == 503 and "database" in response.json()["error"]
    assert cards(bot) == []
    postgres.start()
    retried = await send(bot, event(SENSOR_02))  # SORACOM retries a 5xx
    assert retried.status_code == 200 and retried.json()["result"] == "carded"
    assert len(cards(bot)) == 1
