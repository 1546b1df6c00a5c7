"""Each reply in the language of the Slack user it answers; money, months and plurals through Babel."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.local import LOCAL_BOT_TOKEN
from bot.messages import (
    DEFAULT_LANG,
    LANGUAGES,
    Plural,
    catalogue,
    current_language,
    in_language,
    language_of_locale,
    set_language,
    t,
    term,
)
from bot.messages.locales import UserLanguages
from bot.security.roles import Role
from bot.services.bills import MonthAmount, MonthBill, MonthlyReport
from bot.services.roles import set_role
from bot.app import job_sweeper
from handlers.views import bill as bill_views
from handlers.views.common import money, month_name
from tests.conftest import ADMIN, OPERATOR
from tests.harness import Harness

EN_USER, JA_USER = "U_EN", "U_JA"


def replies_to(harness: Harness, user: str) -> list[str]:
    """The texts of what the bot answered `user` privately, blocks included."""
    calls = [c for c in harness.fake.calls_to("response_url")
             if c.args.get("response_type") == "ephemeral" and c.effect and c.effect.get("user") == user]
    calls += [c for c in harness.fake.calls_to("chat.postEphemeral") if c.args.get("user") == user]
    return [f"{c.args.get('text')} {json.dumps(c.args.get('blocks'), ensure_ascii=False)}" for c in calls]


# One process, two languages


async def test_two_users_get_their_own_language_from_one_bot(harness: Harness) -> None:
    harness.fake.set_locale(EN_USER, "en-US")
    harness.fake.set_locale(JA_USER, "ja-JP")
    assert harness.local.sender is not None
    await asyncio.gather(*(harness.local.sender.command("/sim", "list", user_id=user, channel_id="C_OPS")
                           for user in (JA_USER, EN_USER)))
    await harness.local.settle()
    (english,), (japanese,) = replies_to(harness, EN_USER), replies_to(harness, JA_USER)
    total = len(harness.emulator.subscribers)
    assert f"*{total} SIMs*" in english and "active *13*" in english and "使用中" not in english
    assert f"*SIM {total} 枚*" in japanese and "使用中 *13*" in japanese and ": active" not in japanese
    asked = {c.args["user"]: str(c.args["include_locale"]) for c in harness.fake.calls_to("users.info")}
    assert asked == {EN_USER: "1", JA_USER: "1"}  # slack_sdk's form of include_locale=True
    assert current_language() == DEFAULT_LANG  # the test's own context never took a user's language


async def test_the_locale_is_asked_once_per_user_and_kept(harness: Harness) -> None:
    harness.fake.set_locale(JA_USER, "ja-JP")
    await harness.command("/sim list", user=JA_USER)
    await harness.command("/sim help", user=JA_USER)
    assert len(harness.fake.calls_to("users.info")) == 1
    assert all("SIM" in r and re.search(r"[ぁ-んァ-ヶ一-龠]", r) for r in replies_to(harness, JA_USER))


async def test_buttons_answer_in_the_language_of_who_presses(harness: Harness) -> None:
    harness.fake.set_locale(OPERATOR, "ja-JP")
    await set_role(harness.rt.db, EN_USER, Role.viewer, granted_by=ADMIN)
    await harness.command("/sim tag status:ready batch=7", user=OPERATOR)
    assert "SIM 3 枚" in replies_to(harness, OPERATOR)[-1]
    await harness.press("pending_confirm", user=EN_USER)  # not theirs: refused, in English
    assert "This confirmation belongs to <@U_OP>" in replies_to(harness, EN_USER)[-1]
    assert all("batch" not in s["tags"] for s in harness.emulator.subscribers.values())


async def test_a_button_of_an_older_version_is_answered_in_the_users_language(harness: Harness) -> None:
    harness.fake.set_locale(JA_USER, "ja-JP")
    assert harness.local.sender is not None
    await harness.local.sender.block_action("gone_in_this_version", "x", user_id=JA_USER, channel_id="C_OPS")
    await harness.local.settle()
    assert replies_to(harness, JA_USER)[-1].startswith(catalogue("ja")["common.stale_button"])


async def test_bot_lang_replies_when_slack_does_not_say(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.rt.settings, "BOT_LANG", "ja")
    harness.fake.fail_next("users.info", "ratelimited", times=5)
    await harness.command("/sim show 123", user=EN_USER)
    (reply,) = replies_to(harness, EN_USER)
    assert reply.startswith("`123` は IMSI ではありません")  # the reply went out, in BOT_LANG
    harness.fake.set_locale(JA_USER, "fr-FR")  # no French catalogue: BOT_LANG too
    await harness.command("/sim show 123", user=JA_USER)
    assert replies_to(harness, JA_USER)[0].startswith("`123` は IMSI ではありません")


async def test_a_job_taken_over_after_a_restart_speaks_its_owners_language(harness: Harness) -> None:
    harness.fake.set_locale(OPERATOR, "ja-JP")
    await harness.command("/sim tag status:ready batch=7", user=OPERATOR)
    _, button = harness.find_element("pending_confirm")
    assert await harness.rt.pending.claim(button["value"], "dead-worker")  # claimed by a process that then died
    harness.rt.languages = UserLanguages()  # a new process knows nobody's language yet
    harness.clock.advance(harness.rt.pending.lease.total_seconds() + 1)
    sweeper = job_sweeper(harness.rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=harness.fake.api_url))
    assert await sweeper.sweep() == [button["value"]]
    await harness.local.settle()
    assert all(s["tags"].get("batch") == "7" for s in harness.emulator.subscribers.values() if s["status"] == "ready")
    told = replies_to(harness, OPERATOR)[-1]
    assert "を再起動後に再開しました" in told and "SIM 3 枚" in told
    assert [c.args["user"] for c in harness.fake.calls_to("users.info")][-1] == OPERATOR


# The language is per task, never process-wide


async def test_concurrent_requests_keep_their_own_language() -> None:
    async def speak(lang: str) -> list[str]:
        set_language(lang)
        said = []
        for _ in range(3):
            await asyncio.sleep(0)
            said.append(t("sim.list_empty"))
        return said

    english, japanese = await asyncio.gather(speak("en"), speak("ja"))
    assert set(english) == {catalogue("en")["sim.list_empty"]} and set(japanese) == {catalogue("ja")["sim.list_empty"]}
    assert current_language() == DEFAULT_LANG


def test_in_language_restores_the_language_before() -> None:
    with in_language("ja"):
        assert t("bill.state_closed") == "確定"
    assert t("bill.state_closed") == "closed"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        set_language("fr")


@pytest.mark.parametrize(("locale", "expected"), [("ja-JP", "ja"), ("en-GB", "en"), ("EN_us", "en"), ("fr-FR", "xx"),
                                                  ("", "xx"), (None, "xx")])
def test_slack_locales_map_to_catalogues(locale: str | None, expected: str) -> None:
    assert language_of_locale(locale, "xx") == expected


def test_the_user_cache_is_bounded_and_forgets_after_its_ttl() -> None:
    now = [0.0]
    cache = UserLanguages(size=2, ttl=10, clock=lambda: now[0])
    cache.put("U1", "ja")
    cache.put("U2", "en")
    cache.put("U3", "en", ttl=1)
    assert cache.get("U1") is None and cache.get("U2") == "en" and len(cache) == 2  # the oldest went
    now[0] = 5
    assert cache.get("U3") is None and cache.get("U2") == "en"  # a failure's short TTL lapsed first
    now[0] = 10
    assert cache.get("U2") is None


# Money, months, plurals


def report(currency: str, amount: float) -> MonthlyReport:
    bill = MonthBill(year_month="202611", amount=amount, currency=currency, state="closed", payment_status="paid",
                     previous_amount=amount, items=[], sims=[], breakdown_known=False)
    return MonthlyReport(bill, [MonthAmount("202610", amount), MonthAmount("202611", amount)])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_money_reads_the_same_in_history_lines_and_summary(lang: str) -> None:
    with in_language(lang):
        summary, history = bill_views.summary_text(report("USD", 12.0)), bill_views.history_text(report("USD", 12.0))
    assert "$12.00" in summary
    assert history.endswith(": 2026-10 $12.00, 2026-11 $12.00")  # not "12", as the chart labels had it


def test_money_in_both_languages() -> None:
    assert money(4147, "JPY") == "¥4,147" and money(12, "usd") == "$12.00" and money(None, "JPY") == "—"
    with in_language("ja"):
        assert money(4147, "JPY") == "￥4,147" and money(3, "EUR") == "€3.00"
        assert month_name(date(2026, 12, 1)) == "2026年12月"
    assert month_name(date(2026, 12, 1)) == "December 2026"


def test_counts_pick_the_plural_form_of_the_language() -> None:
    assert t("group.members", count=1) == "1 SIM" and t("group.members", count=2) == "2 SIMs"
    assert t("group.members", count=0) == "0 SIMs"
    assert t("sim.list_title", total=1, where="", counts="—").startswith("*1 SIM*")
    assert t("sim.preview_title", what="Suspend", count=1, selection="x") == "*Suspend* — 1 SIM: `x`"
    assert t("group.members", "ja", count=1) == t("group.members", "ja", count=2).replace("2", "1")
    with pytest.raises(TypeError, match="count"):
        t("group.members", count="two")


def test_plural_entries_need_other_and_know_cldr_categories() -> None:
    with pytest.raises(ValueError, match="plural"):
        Plural(other="x", single="y")


def test_statuses_and_payment_words_are_translated() -> None:
    with in_language("ja"):
        assert term("sim.status", "active") == "使用中" and term("bill.payment_status", "paid") == "支払い済み"
        assert term("sim.status", "someNewStatus") == "someNewStatus"  # SORACOM's own word beats nothing
        assert bill_views.payment_text(report("JPY", 1).bill) == "支払い済み"
    assert term("sim.status", "active") == "active" and term("sim.status", None) == "—"


# No English in Japanese replies

# Words a Japanese reply may hold in Latin letters: names of products and services, acronyms (all capitals, which
# also covers the metavariables of usages such as KEY or TARGET), and the role names, typed as command arguments.
PROPER_NAMES = frozenset({"SORACOM", "Slack", "Bot", "Google", "Authenticator", "Authy", "Password",
                          "Beam", "Harvest"})  # SORACOM's service names are written in Latin letters in Japanese too
UNITS = frozenset({"KiB", "MiB", "GiB"})
ROLE_NAMES = frozenset(role.name for role in Role)
NEUTRAL = "〇"  # what each placeholder is filled with: the text around it is what is checked
NOT_PROSE = [
    re.compile(r"`[^`]*`"),  # code: commands, selectors, ids as typed
    re.compile(r":[a-z0-9_+-]+:"),  # emoji
    re.compile(r"<[^>]*>"),  # mentions, links
    re.compile(r"https?://\S+"),
    re.compile(r"/(?:sim|group|order|bill|mfa|soracom)\b(?: [a-z]+)?"),  # a command name in a plain_text hint
]


def english_words(text: str) -> list[str]:
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    words = re.findall(r"[A-Za-z][A-Za-z0-9]*", text)
    return [w for w in words if not (w.isupper() or w in PROPER_NAMES or w in ROLE_NAMES or w in UNITS)]


def sample_values(entry: Any) -> dict[str, object]:
    texts = entry.forms.values() if isinstance(entry, Plural) else [entry]
    names = {name for text in texts for name in re.findall(r"\{(\w+)[^}]*\}", text)}
    return {name: 2 for name in names}


def render_all(lang: str) -> dict[str, list[str]]:
    """Every message id rendered in `lang`, each plural form, with a number in each placeholder."""
    rendered: dict[str, list[str]] = {}
    for mid, entry in catalogue(lang).items():
        forms = list(entry.forms.values()) if isinstance(entry, Plural) else [entry]
        values = sample_values(entry)
        rendered[mid] = [re.sub(r"\b2\b", NEUTRAL, form.format(**values)) if values else form for form in forms]
    return rendered


def test_every_message_renders_in_both_languages() -> None:
    english, japanese = render_all("en"), render_all("ja")
    assert english.keys() == japanese.keys()
    assert all(texts and all(text.strip() for text in texts) for texts in [*english.values(), *japanese.values()])


def test_no_english_is_left_in_japanese_messages() -> None:
    leftovers = {mid: words for mid, texts in render_all("ja").items()
                 if (words := [w for text in texts for w in english_words(text)])}
    assert leftovers == {}


def test_the_leftover_check_finds_english() -> None:
    assert english_words("SIM 3 枚 and 2 more (`status:active`), :x: <@U1> SORACOM Bot") == ["and", "more"]
    assert english_words("状態: active") == ["active"]


def test_sim_failure_reasons_are_in_the_users_language() -> None:
    from bot.services.sims import ProtectionNotRestored, failure_reason
    from bot.soracom import SoracomError

    both = ProtectionNotRestored(SoracomError(400, "SEM0001", "bad <thing>"), SoracomError(500, None, "down"))
    with in_language("ja"):
        reason = failure_reason(both)
        unexpected = failure_reason(KeyError("x"))
    assert reason == "bad &lt;thing&gt;。解約プロテクションを ON に戻せませんでした (down)"  # escaped once
    assert unexpected == "予期しないエラー (KeyError)"
    assert t("sim.ambiguous_more", count=3) == "and 3 more"
