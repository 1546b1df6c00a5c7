"""Small findings of a first week's trial, each through the real path (signed requests into the bolt app)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.services import audit
from handlers.views import alerts as alert_views
from tests.conftest import OPERATOR
from tests.harness import Harness
from tests.test_alerts import event, ready, send
from tests.test_order import place_order

ROOT = Path(__file__).resolve().parents[1]


def private_texts(harness: Harness) -> list[str]:
    """What the user who typed was told privately: the command's response_url, or an ephemeral message."""
    return [str(c.args.get("text") or "") for c in harness.fake.calls
            if c.method in ("response_url", "chat.postEphemeral") and c.args.get("response_type") != "in_channel"]


async def test_a_bulk_runs_private_result_lists_the_failed_sims_by_reason(harness: Harness) -> None:
    added = harness.emulator.add_subscribers(6, status="ready", tags={"fleet": "small"})
    for sub in added[:2]:
        sub["status"] = "terminated"
    await harness.command("/sim activate tag:fleet=small")
    await harness.press("pending_confirm")
    result = next(text for text in private_texts(harness) if "2 failed" in text)
    head, _, reasons = result.partition("Failed SIMs by reason:")
    assert head and "is terminated" in reasons
    assert all(f"`{sub['imsi']}`" in reasons for sub in added[:2])
    assert [harness.emulator.subscribers[s["imsi"]]["status"] for s in added] == ["terminated"] * 2 + ["active"] * 4



async def test_slow_down_all_uses_each_plans_slowest_class_and_leaves_one_class_plans_alone(harness: Harness) -> None:
    await ready(harness)
    s1 = harness.emulator.add_subscribers(8, status="active", speedClass="s1.standard")
    du = harness.emulator.add_subscribers(3, status="active", subscription="plan-DU", speedClass="u1.standard")
    km1 = harness.emulator.add_subscribers(3, status="active", subscription="plan-KM1", speedClass="t1.standard")
    for sim in s1 + du + km1:
        assert (await send(harness, event(sim["imsi"]))).status_code == 200
    await harness.press(alert_views.STORM_SLOW_ACTION, user=OPERATOR)
    assert "plan-KM1 offers one speed class" in harness.all_text()
    previews = {element["value"] for call in harness.fake.calls for block in call.args.get("blocks") or []
                if isinstance(block, dict) for element in block.get("elements") or []
                if isinstance(element, dict) and element.get("action_id") == "pending_confirm"}
    assert len(previews) == 2  # a preview per speed class: s1.minimum for the s1 plans, u1.slow for plan-DU
    for value in sorted(previews):
        await harness.press("pending_confirm", user=OPERATOR, value=value)
    speeds = {imsi: harness.emulator.subscribers[imsi]["speedClass"] for imsi in harness.emulator.subscribers}
    assert {speeds[s["imsi"]] for s in s1} == {"s1.minimum"}
    assert {speeds[s["imsi"]] for s in du} == {"u1.slow"}
    assert {speeds[s["imsi"]] for s in km1} == {"t1.standard"}
    failed = [e for e in await audit.latest(harness.rt.db, 50) if e.action == "sim.speed" and e.result != "ok"]
    assert failed == []


async def test_slow_down_on_a_plan_du_card_uses_u1_slow(harness: Harness) -> None:
    await ready(harness)
    [du] = harness.emulator.add_subscribers(1, status="active", subscription="plan-DU", speedClass="u1.standard")
    await send(harness, event(du["imsi"]))
    await harness.press(alert_views.SLOW_ACTION, user=OPERATOR)
    assert harness.emulator.subscribers[du["imsi"]]["speedClass"] == "u1.slow"


async def test_the_order_cancel_preview_does_not_offer_two_cancels(harness: Harness) -> None:
    totp = await harness.enroll(OPERATOR)
    order_id = await place_order(harness, totp)
    harness.fake.clear()
    await harness.command(f"/order cancel {order_id}")
    _, confirm = harness.find_element("pending_confirm")
    _, dismiss = harness.find_element("pending_cancel")
    assert (confirm["text"]["text"], dismiss["text"]["text"]) == ("Cancel order", "Keep the order")
    await harness.press("pending_cancel")  # keeping it keeps it
    assert harness.emulator.orders[order_id]["orderStatus"] == "orderProcessing"


@pytest.mark.parametrize(("mode", "said"), [
    ("serve", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "/healthz", "DATABASE_URL", "BOT_PUBLIC_URL"]),
    ("emulator", ["SORACOM_ENDPOINT", "/_emulator", "port to listen on", "address to listen on"]),
])
def test_help_of_serve_and_emulator_says_what_they_do_and_read(mode: str, said: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", mode, "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0
    assert all(word in result.stdout for word in said), result.stdout
