"""Confirmations made by an older version and confirmed after an upgrade: run as they would have, or refused
plainly with nothing done; never "all 0 SIMs done", never an IndexError."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from bot.store.tables import AuditEvent, PendingAction
from tests.harness import Harness

OPERATOR = "U_OP"


async def older_confirmation(harness: Harness, args: dict[str, Any], action: str = "sim.bulk") -> str:
    """A pending action as the version before jobs had items left it: its SIMs in its arguments."""
    pending = await harness.rt.pending.create(user_id=OPERATOR, action=action, args=args, requires_code=False,
                                              channel_id="C_OPS", command="/sim activate tag:lot=old",
                                              summary="Activate 3 SIMs")
    return pending.id


async def confirm(harness: Harness, pending_id: str) -> None:
    assert harness.local.sender is not None
    await harness.local.sender.block_action("pending_confirm", pending_id, user_id=OPERATOR, channel_id="C_OPS")
    await harness.local.settle()


def job_state(harness: Harness, pending_id: str) -> str:
    with harness.rt.db.session() as session:
        row = session.get(PendingAction, pending_id)
        assert row is not None
        return row.state


async def test_a_bulk_preview_from_before_the_upgrade_runs_on_its_sims(harness: Harness) -> None:
    sims = harness.emulator.add_subscribers(3, status="ready")
    imsis = [sim["imsi"] for sim in sims]
    pending_id = await older_confirmation(harness, {"change": {"action": "activate", "params": {}}, "bulk": True,
                                                    "sims": [[imsi, f"old-{i}"] for i, imsi in enumerate(imsis)]})
    await confirm(harness, pending_id)
    assert [harness.emulator.subscribers[imsi]["status"] for imsi in imsis] == ["active"] * 3
    assert job_state(harness, pending_id) == "done"
    assert "all 3 SIMs done" in harness.all_text() and "0 SIMs" not in harness.all_text()
    with harness.rt.db.session() as session:
        rows = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "sim.activate")).all()
    assert sorted(row.target or "" for row in rows) == sorted(imsis)


async def test_a_confirmation_this_version_cannot_read_is_refused_with_nothing_done(harness: Harness) -> None:
    ready = harness.emulator.add_subscribers(1, status="ready")[0]["imsi"]
    for args in ({"change": {"action": "activate", "params": {}}, "bulk": False},  # no SIMs anywhere
                 {"change": {"action": "no-such-change"}, "bulk": True, "sims": [[ready, "x"]]},
                 {"bulk": True, "sims": [[ready, "x"]]}):
        pending_id = await older_confirmation(harness, args)
        await confirm(harness, pending_id)
        assert job_state(harness, pending_id) == "failed"  # nothing done: not "unknown"
    assert harness.emulator.subscribers[ready]["status"] == "ready"
    text = harness.all_text()
    assert text.count("made by an older version of the bot") >= 3 and "type the command again" in text
    assert "0 SIMs done" not in text and "reference" not in text  # no internal error, no traceback
