"""Outside input that reached a 500: a modal submission without a view type, a deeply nested SORACOM event body."""

from __future__ import annotations

from tests.conftest import OPERATOR
from tests.harness import Harness
from tests.test_alerts import SENSOR_02, cards, event, ready, send


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
