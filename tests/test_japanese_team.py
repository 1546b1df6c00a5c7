"""A Japanese team's bot: channel posts in BOT_LANG whoever acts, replies and Home in each user's locale, one
glossary, SORACOM's own error text in Japanese, and a whole console-like session with no English left over."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.emulator import EmulatorState
from bot.emulator.error_texts import JAPANESE, localized
from bot.local import LOCAL_BOT_TOKEN, LocalBot
from bot.messages import catalogue, in_language, t
from bot.messages.en import glossary as en_glossary
from bot.messages.ja import glossary as ja_glossary
from bot.security.roles import Role
from bot.services.roles import set_role
from bot.soracom import NotFound
from bot.soracom.language import errors_in
from handlers.budget_watch import BudgetWatch
from handlers.views import alerts as alert_views
from tests.clock import Clock
from tests.conftest import ADMIN, OPERATOR, VIEWER
from tests.harness import Harness, assert_valid_slack_payloads
from tests.test_alerts import OPS, cards
from tests.test_client import connect
from tests.test_home import open_home
from tests.test_language import english_words

EN_USER = "U_EN"
SENSOR_02 = "440100000000002"


async def harness_in(settings: Settings, clock: Clock, lang: str, database_url: str | None = None) -> Harness:
    update: dict[str, Any] = {"BOT_LANG": lang}
    if database_url:
        update["DATABASE_URL"] = database_url
    local = LocalBot(settings.model_copy(update=update), clock=clock)
    await local.start()
    assert local.rt is not None
    await set_role(local.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
    await set_role(local.rt.db, VIEWER, Role.viewer, granted_by=ADMIN)
    await set_role(local.rt.db, EN_USER, Role.operator, granted_by=ADMIN)
    return Harness(local, clock)


@pytest.fixture
async def ja_bot(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    harness = await harness_in(settings, clock, "ja")
    try:
        yield harness
        assert_valid_slack_payloads(harness.fake)
    finally:
        await harness.local.stop()


@pytest.fixture
async def en_bot(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    harness = await harness_in(settings, clock, "en")
    try:
        yield harness
    finally:
        await harness.local.stop()


async def a_card(harness: Harness) -> dict[str, Any]:
    await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    await harness.command("/alerts setup daily-traffic 100MB", user=ADMIN)
    await harness.local.add_traffic("sensor-02", 150)
    [card] = cards(harness)
    return card


def card_updates(harness: Harness) -> list[str]:
    return [json.dumps(c.args.get("blocks"), ensure_ascii=False) for c in harness.fake.calls_to("chat.update")]


def private_to(harness: Harness, user: str) -> str:
    calls = [c for c in harness.fake.calls_to("response_url")
             if c.args.get("response_type") == "ephemeral" and c.effect and c.effect.get("user") == user]
    calls += [c for c in harness.fake.calls_to("chat.postEphemeral") if c.args.get("user") == user]
    return " ".join(f"{c.args.get('text')} {json.dumps(c.args.get('blocks'), ensure_ascii=False)}" for c in calls)


# Channel posts: BOT_LANG, whoever presses


async def test_a_card_is_in_bot_lang_and_stays_so_when_an_english_user_presses(ja_bot: Harness) -> None:
    ja_bot.fake.set_locale(EN_USER, "en-US")
    card = await a_card(ja_bot)
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    assert "今日の通信量が 100 MiB を超えました" in shown and ja_glossary.ACTION["suspend"] in shown
    await ja_bot.press(alert_views.SHOW_ACTION, user=EN_USER)
    await ja_bot.press(alert_views.SLOW_ACTION, user=EN_USER)
    assert ja_bot.emulator.subscribers[SENSOR_02]["speedClass"] == "s1.minimum"
    [*_, updated] = card_updates(ja_bot)
    assert f"<@{EN_USER}> がこの SIM を" in updated and "slowed" not in updated and "Slow down" not in updated
    mine = private_to(ja_bot, EN_USER)
    assert "Traffic this month" in mine and "今月の通信量" not in mine  # the presser's own reply: their language


async def test_a_japanese_user_pressing_an_english_card_leaves_it_english(en_bot: Harness) -> None:
    en_bot.fake.set_locale(OPERATOR, "ja-JP")
    await a_card(en_bot)
    await en_bot.press(alert_views.MUTE_ACTION, user=OPERATOR)
    [*_, updated] = card_updates(en_bot)
    assert f"<@{OPERATOR}> muted this SIM" in updated and not re.search(r"[ぁ-んァ-ヶ]", updated)


async def test_a_bulk_runs_channel_message_is_in_bot_lang_and_its_owner_told_in_theirs(ja_bot: Harness) -> None:
    ja_bot.fake.set_locale(EN_USER, "en-US")
    await ja_bot.command("/sim tag status:ready batch=7", user=EN_USER)
    assert "Tag with" in private_to(ja_bot, EN_USER)  # the preview is the user's
    await ja_bot.press("pending_confirm", user=EN_USER)
    posts = [json.dumps(c.args, ensure_ascii=False) for c in ja_bot.fake.calls_to("chat.postMessage")]
    posts += card_updates(ja_bot)
    assert posts and all("タグを設定" in p for p in posts) and not any("Tag with" in p for p in posts)


async def test_home_opened_speaks_the_users_locale(en_bot: Harness) -> None:
    en_bot.fake.set_locale(OPERATOR, "ja-JP")
    await en_bot.command("/sim activate spare-02", user=OPERATOR)
    home = json.dumps((await open_home(en_bot, OPERATOR))["blocks"], ensure_ascii=False)
    assert "最近の操作" in home and "Latest actions" not in home
    assert f"{ja_glossary.STATUS['active']}: " in home and "使用開始 `sim.activate`" in home and "成功" in home
    english = json.dumps((await open_home(en_bot, VIEWER))["blocks"], ensure_ascii=False)
    assert not re.search(r"[ぁ-んァ-ヶ]", english.replace("サンドボックス", ""))  # an English viewer's: English


async def test_the_budget_warning_and_its_chart_are_in_bot_lang(ja_bot: Harness) -> None:
    await ja_bot.command(f"/bill budget 1 <#{OPS}|ops>", user=ADMIN)
    watch = BudgetWatch(ja_bot.rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=ja_bot.fake.api_url))
    await watch.run_now()
    [warning] = [c.args for c in ja_bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == OPS]
    text = json.dumps(warning, ensure_ascii=False)
    assert "予算" in text and english_words(warning["text"]) == []
    [upload] = ja_bot.fake.files
    assert "予算" in upload.title


# One glossary


def test_the_glossary_gives_one_word_per_concept() -> None:
    for glossary in (ja_glossary, en_glossary):
        assert len(set(glossary.STATUS.values())) == len(glossary.STATUS)
        assert len(set(glossary.ACTION.values())) == len(glossary.ACTION)
    with in_language("ja"):
        assert t("alerts.button_suspend") == t("sim.what.suspend") == "利用中断"  # the card's button, the preview
        assert t("sim.what.deactivate") == "休止" and t("sim.status.inactive") == "休止中"


# Japanese words of one concept appear in Japanese texts only where the English text names the same concept.
CONCEPTS = {"利用中断": ("suspend",), "休止": ("deactivat", "inactive")}


def test_every_japanese_text_uses_the_glossarys_word_for_its_concept() -> None:
    english, japanese = catalogue("en"), catalogue("ja")
    wrong = {}
    for message_id, entry in japanese.items():
        text = str(getattr(entry, "forms", {}).get("other", entry))
        source = str(getattr(english.get(message_id), "forms", {}).get("other", english.get(message_id))).lower()
        for word, meanings in CONCEPTS.items():
            if word in text.replace("利用中断", "") if word == "休止" else word in text:
                if not any(meaning in source for meaning in meanings):
                    wrong[message_id] = word
    assert wrong == {}


# SORACOM's error text in the reader's language


async def test_soracom_answers_errors_in_japanese_when_the_reader_is_japanese(clock: Clock) -> None:
    state = EmulatorState(now=clock)
    async with connect(state) as client:
        with pytest.raises(NotFound) as english:
            await client.get_subscriber("440109999999999")
        with errors_in("ja"), pytest.raises(NotFound) as japanese:
            await client.get_subscriber("440109999999999")
    assert "does not exist" in str(english.value)
    assert "指定された SIM 440109999999999 は存在しません" in str(japanese.value)


def test_the_emulator_has_japanese_for_the_codes_the_bot_meets() -> None:
    assert {"SEM0001", "SEM0005", "SEM0021", "SEM0041", "GRM0001", "ORM0001", "ORM0008", "COM0008"} <= JAPANESE.keys()
    assert localized("SEM0021", "Speed class s1.minimum is not available for plan-KM1.", "ja") == \
        "速度クラス s1.minimum は plan-KM1 では利用できません。"
    assert localized("SEM0021", "Speed class s1.minimum is not available for plan-KM1.", "en").startswith("Speed")
    assert localized("XYZ9999", "Something new.", "ja") == "Something new."  # as SORACOM: untranslated stays


async def test_a_japanese_users_soracom_failure_reads_in_japanese(ja_bot: Harness) -> None:
    ja_bot.fake.set_locale(OPERATOR, "ja-JP")
    ja_bot.fake.set_locale(EN_USER, "en-US")
    refusal = {"code": "SEM0021", "message": "Speed class s1.minimum is not available for plan-KM1."}
    for user in (OPERATOR, EN_USER):
        ja_bot.emulator.faults.fail_next("POST", "update_speed_class", status=400, body=refusal)
        await ja_bot.command("/sim speed sensor-02 s1.minimum", user=user)
    assert "速度クラス s1.minimum は plan-KM1 では利用できません" in private_to(ja_bot, OPERATOR)
    assert "is not available for plan-KM1" in private_to(ja_bot, EN_USER)
    assert ja_bot.emulator.subscribers[SENSOR_02]["speedClass"] != "s1.minimum"


# The proof: a Japanese team's whole session, no English left over

# Names a Japanese reader sees in Latin letters: the product's and SORACOM's names, plan and product names, units,
# and words SORACOM's own Japanese console keeps in English.
NAMES = frozenset({"SORACOM", "Slack", "Air", "SIM", "card", "size", "Nano", "Micro", "Mini", "for", "data", "pack",
                   "pack1", "plan", "KM1", "DU", "D", "Harvest", "Beam", "Funnel", "Funk", "Unified", "Endpoint",
                   "Napter", "Krypton", "Orbit", "Lagoon", "Inventory", "Gate", "Canal", "Door", "Direct",
                   "CustomerManagement", "FieldTest", "Google", "Authenticator", "Authy", "MiB", "GiB", "KiB", "B",
                   "TiB", "JST", "fast", "slow", "minimum", "standard", "s1", "t1", "u1", "sensor", "meter", "gateway",
                   "spare", "IoT", "Platform", "Asia", "Tokyo", "xfast"})  # seed data, the zone's id, s1.4xfast
METHODS_READ = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url", "views.open",
                "views.update", "views.push", "views.publish", "files.upload", "files.completeUploadExternal")


def leftovers(harness: Harness) -> dict[str, list[str]]:
    """English words in everything the bot showed: posts, ephemerals, modals, Home views, file titles."""
    found: dict[str, list[str]] = {}
    data = [value for s in harness.emulator.subscribers.values() for value in (s.get("tags") or {}).values()]
    names = NAMES | {part for value in data for part in re.split(r"[^A-Za-z0-9]+", str(value)) if part}
    for call in harness.fake.calls:
        if not call.method.startswith(METHODS_READ):
            continue
        shown = _shown(call.args)
        shown = re.sub(r"&(?:amp|lt|gt);|/alerts\b", " ", shown)
        words = [w for w in english_words(shown) if w not in names and not re.fullmatch(r"\w*\d\w*", w)]
        if words:
            found.setdefault(call.method, []).extend(sorted(set(words)))
    for upload in harness.fake.files:
        words = [w for w in english_words(upload.title) if w not in NAMES]
        if words:
            found.setdefault("file", []).extend(words)
    return found


def _shown(value: Any) -> str:
    """The text a person reads: block and view text, titles, labels, options; not ids, values or URLs."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return _shown(parsed) if isinstance(parsed, (dict, list)) else value
    if isinstance(value, dict):
        return " ".join(_shown(v) for k, v in value.items()
                        if k not in ("action_id", "block_id", "value", "callback_id", "private_metadata", "url",
                                     "image_url", "type", "style", "channel", "user", "ts", "thread_ts",
                                     "response_type", "trigger_id", "view_id", "external_id", "hash", "user_id",
                                     "initial_value", "alt_text", "emoji", "verbatim", "dispatch_action",
                                     "replace_original", "delete_original", "filename", "file", "channel_id",
                                     "response_url_id"))  # the fake's own record of which URL: random hex
    if isinstance(value, list):
        return " ".join(_shown(v) for v in value)
    return ""


def test_what_a_person_reads_leaves_out_the_fakes_random_ids() -> None:
    # A random hex id of digits then letters ("…4e") reads as an English word: once in a few dozen sessions
    shown = _shown({"text": "完了", "response_url_id": "123456789012345e", "block_id": "1234567890abcdef"})
    assert english_words(shown) == []


async def test_a_japanese_teams_whole_session_shows_no_english(settings: Settings, clock: Clock,
                                                                database_url: str) -> None:
    harness = await harness_in(settings, clock, "ja", database_url)
    try:
        await japanese_session(harness)
        assert leftovers(harness) == {}
        assert_valid_slack_payloads(harness.fake)
    finally:
        await harness.local.stop()


async def japanese_session(h: Harness) -> None:
    """Every command family, a card, a budget warning and Home, as a Japanese admin (ja-JP, BOT_LANG=ja)."""
    h.fake.set_locale(ADMIN, "ja-JP")
    # The budget warning and its chart first, before the codes below move the clock on: at 23:59 JST on a month's
    # last day they would carry it into a month SORACOM has no daily bill of yet
    await h.command(f"/bill budget ￥1 <#{OPS}|ops>", user=ADMIN)
    watch = BudgetWatch(h.rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=h.fake.api_url))
    await watch.run_now()
    totp = await h.enroll(ADMIN)
    for line in ("/soracom help", "/soracom roles", "/soracom role U_NEW operator", "/soracom audit 5",
                 "/sim help", "/sim list", "/sim list status:active", "/sim show sensor-03", "/sim show sensor-09",
                 "/sim tag sensor-01 site=osaka", "/sim untag sensor-01 site", "/sim speed sensor-01 s1.fast",
                 "/sim nosuch", "/sim show 12345", "/sim diagnose sensor-02", "/sim ping sensor-02",
                 "/group help", "/group list", "/group show CustomerManagement", "/group create 試験",
                 "/group config 試験 SoracomAir useCustomDns=true",
                 "/order help", "/order list",
                 "/bill help", "/bill", "/bill daily", "/bill budget", "/bill budget $12",
                 "/bill budget",
                 "/mfa help", "/mfa status",
                 "/alerts help", f"/alerts channel <#{OPS}|ops>", "/alerts setup daily-traffic 100MB",
                 "/alerts list", "/alerts mute sensor-01 12h"):
        await h.command(line, user=ADMIN)
    # A bulk change through its preview, a gated one through the code
    await h.command("/sim activate status:ready", user=ADMIN)
    await h.press("pending_confirm", user=ADMIN)
    await h.command("/sim suspend sensor-04", user=ADMIN)
    await h.press("pending_confirm", user=ADMIN)
    await h.submit_code(h.code(totp), user=ADMIN)
    h.clock.advance(30)
    # An order, listed and shown
    await h.command("/order sims 2", user=ADMIN)
    await h.press("pending_confirm", user=ADMIN)
    await h.submit_code(h.code(totp), user=ADMIN)
    h.clock.advance(30)
    await h.command("/order list", user=ADMIN)
    placed = [o for o in h.emulator.orders.values() if "orderStatus" in o]
    if placed:
        await h.command(f"/order show {placed[0]['orderId']}", user=ADMIN)
    # A card and its buttons
    await h.local.add_traffic("sensor-02", 150)
    await h.press(alert_views.SHOW_ACTION, user=ADMIN)
    await h.press(alert_views.MUTE_ACTION, user=ADMIN)
    # Home
    await open_home(h, ADMIN)
    await h.press("home_refresh", user=ADMIN)
    # It all happened: every surface was shown something
    subs = h.emulator.subscribers
    assert subs["440100000000004"]["status"] == "suspended" and placed
    assert not [s for s in subs.values() if s["status"] == "ready"]  # the bulk activation ran
    assert any(g["tags"].get("name") == "試験" for g in h.emulator.groups.values())
    assert len(cards(h)) == 1 and h.fake.homes[ADMIN]
    assert any(f.filename.startswith("soracom-budget-") for f in h.fake.files)  # the warning's chart
    assert {"views.open", "views.publish", "chat.update", "chat.postMessage"} <= {c.method for c in h.fake.calls}
