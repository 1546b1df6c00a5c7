"""Every step re-checks who acts, and the outcome stands whatever happens after SORACOM acted: signed HTTP in,
the emulator's state and the stand-in's messages asserted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.local import LocalBot
from bot.security.roles import Role
from bot.services import audit, roles, sims
from bot.services.errors import WriteUnconfirmed
from bot.soracom import SoracomUnavailable
from bot.soracom.models import Subscriber
from bot.store import outbox
from bot.store.tables import PendingAction
from handlers import sim as sim_handlers
from tests.conftest import ADMIN, OPERATOR, VIEWER
from tests.harness import Harness, assert_valid_slack_payloads

SIM = "440100000000016"


@pytest.fixture
async def harness(settings: Settings, database_url: str, clock) -> AsyncIterator[Harness]:  # type: ignore[no-untyped-def]
    """The conftest harness, on SQLite and on PostgreSQL: every check below reads the database at the moment."""
    local = LocalBot(settings.model_copy(update={"DATABASE_URL": database_url}), clock=clock)
    await local.start()
    assert local.rt is not None
    await roles.set_role(local.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
    await roles.set_role(local.rt.db, VIEWER, Role.viewer, granted_by=ADMIN)
    try:
        yield Harness(local, clock)
        assert_valid_slack_payloads(local.fake)
    finally:
        await local.stop()


async def audits(harness, action: str) -> list[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
    return [(e.target, e.result) for e in reversed(await audit.latest(harness.rt.db, 400)) if e.action == action]


def job_state(harness) -> str:  # type: ignore[no-untyped-def]
    with harness.rt.db.session() as session:
        return session.query(PendingAction).order_by(PendingAction.created_at.desc()).first().state


async def test_an_operator_demoted_while_the_code_modal_is_open_is_refused_at_submission(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command(f"/sim terminate {SIM}", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    modal = harness.latest_view()
    await roles.set_role(harness.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)

    response = await harness.submit_code(harness.code(totp), user=OPERATOR, view=modal)

    assert "you are a *viewer* now" in json.dumps(response.json())
    assert harness.emulator.subscribers[SIM]["status"] != "terminated"
    assert not [r for r in harness.emulator.requests if r.operation_id == "terminateSubscriber"]
    assert [result for _, result in await audits(harness, "sim.terminate")] == ["refused"]


async def test_a_demoted_admin_cannot_make_themselves_admin_again_with_a_pending_role_change(harness) -> None:  # type: ignore[no-untyped-def]
    other_admin = "U_ADMIN2"
    await roles.set_role(harness.rt.db, other_admin, Role.admin, granted_by=ADMIN)
    totp = await harness.enroll(other_admin)
    await harness.command(f"/soracom role <@{other_admin}> admin", user=other_admin)
    await harness.press("pending_confirm", user=other_admin)
    modal = harness.latest_view()
    await roles.set_role(harness.rt.db, other_admin, Role.viewer, granted_by=ADMIN)

    await harness.submit_code(harness.code(totp), user=other_admin, view=modal)

    assert await roles.role_of(harness.rt.db, other_admin, harness.rt.settings.admins) is Role.viewer
    assert [result for _, result in await audits(harness, "soracom.role")] == ["refused"]


async def test_a_role_taken_away_during_a_bulk_run_stops_it_at_the_next_sim(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.faults.latency = 0.01  # the run lasts longer than the demotion takes
    added = harness.emulator.add_subscribers(60, status="ready")
    for sim in added:
        sim["tags"]["fleet"] = "demote"
    imsis = [sim["imsi"] for sim in added]
    started: dict[str, float] = {}  # when each SIM's SORACOM call started (loop time)
    demoted_at: list[float] = []
    done: list[str] = []
    apply = sims.apply

    async def apply_then_demote(client: Any, change: sims.Change, imsi: str) -> None:
        started[imsi] = asyncio.get_running_loop().time()
        await apply(client, change, imsi)
        done.append(imsi)
        if len(done) == 3:  # an admin demotes the operator while the run goes on
            await roles.set_role(harness.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)
            demoted_at.append(asyncio.get_running_loop().time())

    monkeypatch.setattr(sims, "apply", apply_then_demote)
    await harness.command("/sim activate tag:fleet=demote", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)

    active = {imsi for imsi in imsis if harness.emulator.subscribers[imsi]["status"] == "active"}
    assert active == set(started) and 3 <= len(active) < len(imsis)
    # No SIM was called later than the role read the workers share may be old: a demotion stops the run at once.
    assert max(started.values()) <= demoted_at[0] + sim_handlers.ROLE_FRESHNESS + 0.005
    rows = dict(await audits(harness, "sim.activate"))
    assert set(rows) == set(imsis)  # every SIM has its row …
    assert {imsi for imsi, result in rows.items() if result == "refused"} == set(imsis) - active  # … refused


async def test_cancelling_someone_elses_confirmation_says_whose_it_is(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim activate status:ready", user=OPERATOR)
    await harness.press("pending_cancel", user=ADMIN)
    assert f"belongs to <@{OPERATOR}>" in harness.all_text()
    assert "already confirmed" not in harness.all_text()
    assert job_state(harness) == "pending"


async def test_an_order_stays_placed_when_slack_refuses_the_announcement(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/order sims 2", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    harness.fake.fail_next("chat.postMessage", "channel_not_found")
    await harness.submit_code(harness.code(totp), user=OPERATOR)

    placed = [o for o in harness.emulator.orders.values() if "orderStatus" in o]
    assert len(placed) == 1
    assert job_state(harness) == "done"
    assert [result for _, result in await audits(harness, "order.sims")][-1] == "ok"
    private = [c.args["text"] for c in harness.fake.calls_to("chat.postEphemeral") if c.args.get("user") == OPERATOR]
    assert any("channel_not_found" in text and "done all the same" in text and placed[0]["orderId"] in text
               for text in private)


async def test_a_write_that_times_out_is_read_back_before_the_user_is_told(harness) -> None:  # type: ignore[no-untyped-def]
    """SORACOM answers 503 to every try of the activation (the client retries): the SIM is read back, not assumed."""
    ready = next(imsi for imsi, sim in harness.emulator.subscribers.items() if sim["status"] == "ready")
    harness.emulator.faults.fail_next("POST", rf"/subscribers/{ready}/activate$", 503, times=20)
    await harness.command(f"/sim activate {ready}", user=OPERATOR)
    said = harness.all_text()
    assert "SORACOM did not answer" in said and "read back: not changed" in said
    assert harness.emulator.subscribers[ready]["status"] == "ready"
    assert [result for _, result in await audits(harness, "sim.activate")] == ["failed"]


class _Answered:
    """A SORACOM client whose writes time out after they took effect, and whose reads tell the truth."""

    def __init__(self, status: str = "ready", read_fails: bool = False) -> None:
        self.status, self.read_fails = status, read_fails

    async def activate_subscriber(self, imsi: str) -> None:
        self.status = "active"
        raise SoracomUnavailable("timed out")

    async def get_subscriber(self, imsi: str) -> Subscriber:
        if self.read_fails:
            raise SoracomUnavailable("timed out")
        return Subscriber(imsi=imsi, status=self.status)


async def test_a_write_that_took_effect_but_timed_out_is_a_success() -> None:
    await sims.apply(_Answered(), sims.Change(sims.Action.activate), SIM)  # type: ignore[arg-type]


async def test_a_write_whose_read_back_fails_too_is_unknown_not_failed() -> None:
    try:
        await sims.apply(_Answered(read_fails=True), sims.Change(sims.Action.activate), SIM)  # type: ignore[arg-type]
    except WriteUnconfirmed as exc:
        assert exc.changed is None
    else:
        raise AssertionError("an unconfirmed write passed as done")


async def test_audit_rows_the_database_refuses_wait_in_the_outbox_until_it_works(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    insert = outbox._insert

    def locked(db: Any, rows: Any) -> None:
        if rows[0]["result"] == "started":  # the intent, before the write, goes in; the outcome, after, does not
            return insert(db, rows)
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(outbox, "_insert", locked)
    monkeypatch.setattr(outbox, "RETRY_AFTER", 0.01)
    ready = next(imsi for imsi, sim in harness.emulator.subscribers.items() if sim["status"] == "ready")
    await harness.command(f"/sim activate {ready}", user=OPERATOR)
    assert harness.emulator.subscribers[ready]["status"] == "active"  # SORACOM acted …
    assert harness.rt.db.outbox.exists() and ready in harness.rt.db.outbox.read_text()  # … and the row is kept
    assert oct(harness.rt.db.outbox.stat().st_mode & 0o777) == "0o600"

    monkeypatch.setattr(outbox, "_insert", insert)
    assert outbox.flush(harness.rt.db) == 1
    assert await audits(harness, "sim.activate") == [(ready, "ok")]
    assert not harness.rt.db.outbox.exists()


async def test_viewer_buttons_of_a_preview_cannot_run_it(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim activate status:ready", user=OPERATOR)
    await harness.press("pending_confirm", user=VIEWER)
    assert f"belongs to <@{OPERATOR}>" in harness.all_text()
    assert job_state(harness) == "pending"
