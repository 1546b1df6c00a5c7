"""Two bots with different settings in one process, on one event loop: each answers by its own settings, and
neither sees the other's registries, database or SORACOM."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings
from bot.local import LocalBot
from bot.messages import t
from bot.services import audit
from handlers.common import SlashCommands
from handlers.jobs import GatedActions
from tests.clock import Clock
from tests.harness import Harness

ALICE, BOB = "U_ALICE", "U_BOB"


def own(settings: Settings, tmp_path: Path, name: str, **update: str) -> Settings:
    return settings.model_copy(update={"DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.db'}",
                                       "BOT_DATA_DIR": str(tmp_path / name), **update})


def group_names(bot: LocalBot) -> set[str]:
    assert bot.rt is not None
    return {(g.get("tags") or {}).get("name", "") for g in bot.rt.emulator.groups.values()}


def group_id(bot: LocalBot, name: str) -> str:
    assert bot.rt is not None
    return next(i for i, g in bot.rt.emulator.groups.items() if (g.get("tags") or {}).get("name") == name)


async def audit_rows(bot: LocalBot) -> list[tuple[str, str, str | None, str]]:
    assert bot.rt is not None
    return [(e.user_id, e.action, e.target, e.result) for e in reversed(await audit.latest(bot.rt.db, 20))]


async def test_two_bots_in_one_process_answer_by_their_own_settings(settings: Settings, tmp_path: Path,
                                                                     clock: Clock) -> None:
    english = own(settings, tmp_path, "a", BOT_ADMINS=ALICE)
    japanese = own(settings, tmp_path, "b", BOT_ADMINS=BOB, BOT_LANG="ja")
    async with LocalBot(english, clock=clock) as a, LocalBot(japanese, clock=clock) as b:
        assert a.rt is not None and b.rt is not None and a.sender is not None and b.sender is not None
        for bot in (a, b):  # a locale with no catalogue: each bot's BOT_LANG decides
            bot.fake.set_locale(ALICE, "fr-FR")
            bot.fake.set_locale(BOB, "fr-FR")
        seeded = group_names(a)
        assert group_names(b) == seeded

        # Each admin creates a group on both bots, all at once.
        await asyncio.gather(*(bot.sender.command("/group", f"create {name}", user_id=user, channel_id="C1")
                               for bot in (a, b) for user, name in ((ALICE, "alpha"), (BOB, "beta"))))
        await a.settle()  # waits for every task on the loop: both bots'

        assert group_names(a) - seeded == {"alpha"} and group_names(b) - seeded == {"beta"}
        assert "needs the *operator* role" in a.fake.ephemerals(BOB)[-1]["text"]
        assert "権限が必要です" in b.fake.ephemerals(ALICE)[-1]["text"]
        alpha, beta = group_id(a, "alpha"), group_id(b, "beta")
        assert sorted(await audit_rows(a)) == [(ALICE, "group.create", f"alpha {alpha}", "ok"),
                                               (BOB, "group.create", "beta", "refused")]
        assert sorted(await audit_rows(b)) == [(ALICE, "group.create", "alpha", "refused"),
                                               (BOB, "group.create", f"beta {beta}", "ok")]

        # A gated action runs as a job on each bot, from that bot's own registry, into its own SORACOM; its preview
        # and its outcome in that bot's language.
        assert a.rt.state(GatedActions) is not b.rt.state(GatedActions)
        assert set(a.rt.state(SlashCommands)) == set(b.rt.state(SlashCommands))
        for bot, admin, name, lang in ((a, ALICE, "alpha", "en"), (b, BOB, "beta", "ja")):
            harness = Harness(bot, clock)
            totp = await harness.enroll(admin)
            await harness.command(f"/group delete {name}", user=admin)
            _, button = harness.find_element("pending_confirm")
            assert button["text"]["text"] == t("group.delete_confirm", lang)
            await harness.press("pending_confirm", user=admin)
            await harness.submit_code(harness.code(totp), user=admin)
            assert group_names(bot) == seeded
        assert f"<@{ALICE}> deleted group" in a.fake.messages("C_OPS")[-1]["text"]
        assert f"<@{BOB}> がグループ" in b.fake.messages("C_OPS")[-1]["text"]
        assert [row[1:] for row in (await audit_rows(a))[-1:]] == [("group.delete", f"alpha {alpha}", "ok")]
        assert [row[1:] for row in (await audit_rows(b))[-1:]] == [("group.delete", f"beta {beta}", "ok")]
