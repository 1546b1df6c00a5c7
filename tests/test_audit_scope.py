"""The audit scope: every command audits the same way, whatever the handler; one row per action, never two."""

from __future__ import annotations

import logging
import re

import pytest

from bot.services import audit, groups
from tests.conftest import OPERATOR, VIEWER

MESSAGE_ID = re.compile(r"[a-z_]+\.[a-z_]+")


async def rows(harness) -> list[tuple[str, str | None, str, str | None]]:  # type: ignore[no-untyped-def]
    """(action, target, result, error) of every audit row, oldest first."""
    return [(e.action, e.target, e.result, e.error) for e in reversed(await audit.latest(harness.rt.db, 100))]


def soracom_writes(harness) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.path for r in harness.emulator.requests if r.method != "GET" and not r.path.startswith("/v1/auth")]


@pytest.mark.parametrize(("line", "action", "target"), [
    ("/order sims 0", "order.sims", "0"),
    ("/group delete no-such-group", "group.delete", "no-such-group"),
    ("/sim imei-lock 440100000000001 12345", "sim.imei-lock", "440100000000001 12345"),
])
async def test_bad_input_to_any_command_is_audited_alike_with_what_the_user_was_told(  # type: ignore[no-untyped-def]
        harness, line: str, action: str, target: str) -> None:
    await harness.command(line)
    told = harness.fake.ephemerals(OPERATOR)[-1]["text"]
    assert await rows(harness) == [(action, target, "refused", told)]  # one row: the command and its arguments
    assert not MESSAGE_ID.fullmatch(told) and " " in told  # a sentence, not a catalogue id
    assert not soracom_writes(harness)


async def test_a_refused_role_is_audited_with_the_refusal_the_user_read(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group create newgroup", user=VIEWER)
    told = harness.fake.ephemerals(VIEWER)[-1]["text"]
    assert "needs the *operator* role" in told
    assert await rows(harness) == [("group.create", "newgroup", "refused", told)]
    assert not soracom_writes(harness)


async def test_soracom_saying_no_is_failed_for_every_handler(harness) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.faults.fail_next("POST", r"/groups$", status=400)
    await harness.command("/group create newgroup")
    await harness.command("/sim standby sensor-03")  # SORACOM refuses: an active SIM cannot go to standby
    (group_row, sim_row) = await rows(harness)
    assert group_row[:3] == ("group.create", "newgroup", "failed") and "SORACOM" in (group_row[3] or "")
    assert sim_row[0] == "sim.standby" and sim_row[2] == "failed"
    assert sim_row[3] == harness.fake.ephemerals(OPERATOR)[-1]["text"]  # what the user read, SIM and reason
    assert "standby" in (sim_row[3] or "")


async def test_an_unexpected_error_is_audited_by_its_kind_and_the_user_gets_a_reference(  # type: ignore[no-untyped-def]
        harness, monkeypatch, caplog) -> None:
    async def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("token=secret-value")

    monkeypatch.setattr(groups, "create_group", broken)
    with caplog.at_level(logging.ERROR):
        await harness.command("/group create newgroup")
    told = harness.fake.ephemerals(OPERATOR)[-1]["text"]
    assert "reference `" in told and "secret-value" not in told
    assert await rows(harness) == [("group.create", "newgroup", "error", "RuntimeError")]


async def test_a_failure_inside_a_nested_action_is_recorded_once(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    harness.emulator.faults.fail_next("POST", r"/orders$", status=500)
    await harness.command("/order sims 2")
    # The quotation failed inside /order sims: its row says so, and the command does not record it again.
    assert [(action, result) for action, _, result, _ in await rows(harness)] == [("order.quote", "error")]


async def test_a_preview_records_nothing_and_its_confirmation_one_row(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/group create empty-one")
    created = (await rows(harness))[-1]
    await harness.command("/group delete empty-one")
    assert await rows(harness) == [created]  # the preview waits for Confirm: nothing done, nothing recorded
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    deleted = (await audit.latest(harness.rt.db, 1))[0]
    assert (deleted.action, deleted.result, deleted.command, deleted.channel_id) == (
        "group.delete", "ok", "/group delete empty-one", "C_OPS")  # recorded as the command, in its channel
    assert len(await rows(harness)) == 2


async def test_a_confirmed_job_failing_outside_its_executor_is_audited_once(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sim = "440100000000016"
    totp = await harness.enroll(OPERATOR)
    await harness.command(f"/sim terminate {sim}")
    assert await rows(harness) == []

    async def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(harness.rt.pending, "items", broken)  # the job cannot read which SIM it was for
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    [(action, target, result, error)] = await rows(harness)
    assert (action, result, error) == ("sim.terminate", "error", "RuntimeError") and sim in (target or "")
    assert harness.emulator.subscribers[sim]["status"] != "terminated"
