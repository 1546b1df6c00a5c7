"""Outside input that reached a 500 (a modal submission without a view type, a deeply nested SORACOM event body)
or was taken as it came (alerts registered at http://localhost)."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.local import LocalBot
from bot.services.alert_rules import events_url
from bot.services.errors import InputError
from tests.conftest import ADMIN, OPERATOR
from tests.harness import Harness
from tests.test_alerts import OPS, SENSOR_02, cards, event, ready, send


async def test_a_signed_modal_submission_whose_view_has_no_type_is_400(harness: Harness) -> None:
    await harness.command("/mfa enroll", user=OPERATOR)
    view = {key: value for key, value in harness.latest_view().items() if key != "type"}
    assert harness.local.sender is not None
    response = await harness.local.sender.view_submission(view, {}, user_id=OPERATOR)
    assert response.status_code == 400 and "malformed" in response.text
    assert (await harness.rt.mfa.status(OPERATOR)).confirmed_at is None


async def test_a_5000_deep_json_body_on_soracom_events_is_400(harness: Harness) -> None:
    await ready(harness)
    response = await send(harness, None, raw=b"[" * 5000 + b"]" * 5000)
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    deep = b'{"rule": "daily-traffic", "imsi": "440100000000002", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await send(harness, None, raw=deep)
    assert response.status_code == 400
    assert cards(harness) == []
    assert (await send(harness, event(SENSOR_02))).json()["result"] == "carded"  # and the next event is taken


async def test_alerts_setup_refuses_without_a_public_url_and_says_what_to_set(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"BOT_PUBLIC_URL": None, "BOT_EVENTS_TOKEN": "events-token-for-the-test"})
    async with LocalBot(settings, clock=clock) as local:
        harness = Harness(local, clock)
        await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
        await harness.command("/alerts setup daily-traffic 100MB", user=ADMIN)
        assert "set `BOT_PUBLIC_URL` to its https:// URL" in harness.all_text()
        assert "rule created at SORACOM" not in harness.all_text()
        assert harness.emulator.event_handlers == {}


@pytest.mark.parametrize(("url", "sandbox", "expected"), [
    ("https://bot.example.com", False, "https://bot.example.com/soracom/events"),
    ("https://bot.example.com/", False, "https://bot.example.com/soracom/events"),
    ("http://bot.example.com", True, "http://bot.example.com/soracom/events"),  # the embedded emulator, locally
    ("http://bot.example.com", False, None),  # SORACOM: never in clear
    (None, False, None),
    (None, True, None),
])
def test_the_events_url_is_the_public_https_url(url: str | None, sandbox: bool, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InputError):
            events_url(url, sandbox=sandbox)
    else:
        assert events_url(url, sandbox=sandbox) == expected
