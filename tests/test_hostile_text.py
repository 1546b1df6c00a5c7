"""Hostile text end to end: data that looks like Slack markup reaches Slack as inert text, command text is decoded
once, and oversized input is refused before SORACOM sees it."""

from __future__ import annotations

import re
import time
from typing import Any

from bot.services import audit
from tests.conftest import ADMIN, OPERATOR, VIEWER

HOSTILE = "<!channel> <@U123> <https://evil.example/login|Re-authenticate SORACOM> & co"
SENSOR_01, SENSOR_02, SPARE = "440100000000001", "440100000000002", "440100000000006"
LIVE_MARKUP = re.compile(r"<[!@#]|<https?:|<mailto:")
ENTITY = re.compile(r"&(amp|lt|gt);")


def texts_of(value: Any, mrkdwn: list[str], plain: list[str], *, key: str = "") -> None:
    """Sorts every text a person would read in a Slack payload into mrkdwn (markup is live) and plain_text."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text" and isinstance(value.get("text"), str):
            plain.append(value["text"])
            return
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            mrkdwn.append(value["text"])
            return
        for name, item in value.items():
            if name not in ("action_id", "block_id", "value", "private_metadata", "callback_id"):
                texts_of(item, mrkdwn, plain, key=name)
    elif isinstance(value, list):
        for item in value:
            texts_of(item, mrkdwn, plain, key=key)
    elif isinstance(value, str) and key == "text":  # a message's top-level text is mrkdwn too
        mrkdwn.append(value)


def sent(harness) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    mrkdwn: list[str] = []
    plain: list[str] = []
    for call in harness.fake.calls:
        texts_of(call.args, mrkdwn, plain)
    return mrkdwn, plain


def assert_inert(harness, *, shown: str = "&lt;!channel&gt;") -> str:  # type: ignore[no-untyped-def]
    """No live mention or link reached Slack; the hostile text is still shown, escaped. Returns the mrkdwn."""
    mrkdwn, plain = sent(harness)
    everything = "\n".join(mrkdwn)
    bot_markup = re.compile(r"<@U_[A-Z]+>")  # the bot's own mentions of the people in the test
    assert not LIVE_MARKUP.search(bot_markup.sub("", everything)), everything
    assert shown in everything
    assert not any(ENTITY.search(p) for p in plain), plain
    return everything


def name_sim(harness, imsi: str, name: str = HOSTILE) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.subscribers[imsi]["tags"]["name"] = name


# Data from SORACOM


async def test_activate_one_sim_posts_its_hostile_name_as_text(harness) -> None:  # type: ignore[no-untyped-def]
    name_sim(harness, SPARE)
    await harness.command(f"/sim activate {SPARE}", user=OPERATOR)
    assert harness.emulator.subscribers[SPARE]["status"] == "active"
    posted = assert_inert(harness)
    assert "<@U_OP>" in posted  # the bot's own mention of who acted still works
    assert "&lt;https://evil.example/login|Re-authenticate SORACOM&gt; &amp; co" in posted


async def test_group_one_sim_escapes_the_sim_and_the_group(harness) -> None:  # type: ignore[no-untyped-def]
    name_sim(harness, SENSOR_01)
    group_id = next(g for g, v in harness.emulator.groups.items() if v["tags"].get("name") == "FieldTest")
    harness.emulator.groups[group_id]["tags"]["name"] = "<!here>"
    await harness.command(f"/sim group {SENSOR_01} {group_id}", user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_01]["groupId"] == group_id
    assert "&lt;!here&gt;" in assert_inert(harness)


async def test_show_and_list_escape_names_and_tags(harness) -> None:  # type: ignore[no-untyped-def]
    name_sim(harness, SENSOR_01)
    harness.emulator.subscribers[SENSOR_01]["tags"]["<#C999>"] = "<mailto:a@evil.example>"
    await harness.command(f"/sim show {SENSOR_01}", user=VIEWER)
    shown = assert_inert(harness)
    assert "&lt;#C999&gt;=&lt;mailto:a@evil.example&gt;" in shown
    harness.fake.calls.clear()
    await harness.command("/sim list", user=VIEWER)
    assert_inert(harness)


async def test_bulk_preview_progress_and_report_escape_names_and_soracom_errors(harness) -> None:  # type: ignore[no-untyped-def]
    name_sim(harness, SENSOR_01)
    name_sim(harness, SENSOR_02, "<!everyone>")
    harness.emulator.faults.fail_next("POST", rf"/subscribers/{SENSOR_02}/set_group", status=400,
                                      body={"code": "SEM0001", "message": "<!channel> go to <https://evil.example>"})
    await harness.command(f"/sim group {SENSOR_01} {SENSOR_02} FieldTest", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    shown = assert_inert(harness)
    assert "&lt;!everyone&gt;" in shown and "go to &lt;https://evil.example&gt;" in shown
    assert harness.emulator.subscribers[SENSOR_01]["groupId"] != harness.emulator.subscribers[SENSOR_02]["groupId"]


async def test_group_and_audit_views_escape_data(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group create <!channel>", user=OPERATOR)
    assert any(g["tags"].get("name") == "<!channel>" for g in harness.emulator.groups.values())
    await harness.command("/group list", user=VIEWER)
    await harness.command("/soracom audit", user=ADMIN)
    shown = assert_inert(harness)
    assert "`group.create`" in shown or "group.create" in shown


async def test_user_input_echoed_in_errors_is_escaped(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim show <!channel>", user=VIEWER)
    await harness.command("/soracom role <@U123> <!here>", user=ADMIN)
    assert_inert(harness)
    assert not [e for e in await audit.latest(harness.rt.db, 10) if e.result == "ok"]


# Command text: Slack sends the &, < and > a user typed as entities


def group_named(harness, name: str) -> dict:  # type: ignore[no-untyped-def]
    return next(g for g in harness.emulator.groups.values() if g["tags"].get("name") == name)


async def test_sim_tag_stores_what_the_user_typed(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim tag {SENSOR_01} note=&lt;b&gt; pair=a&amp;b lit=&amp;lt;", user=OPERATOR)
    tags = harness.emulator.subscribers[SENSOR_01]["tags"]
    assert (tags["note"], tags["pair"], tags["lit"]) == ("<b>", "a&b", "&lt;")  # decoded once, not twice
    posted = assert_inert(harness, shown="note=&lt;b&gt;")
    assert "lit=&amp;lt;" in posted


async def test_group_config_is_decoded_once_like_every_command(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command('/group config FieldTest SoracomAir x=&lt;y&gt; z="a&amp;amp;b"', user=OPERATOR)
    air = group_named(harness, "FieldTest")["configuration"]["SoracomAir"]
    assert (air["x"], air["z"]) == ("<y>", "a&amp;b")


# Size: input is bounded before SORACOM sees it, and every post fits Slack


def config_puts(harness) -> list:  # type: ignore[no-untyped-def]
    return [r for r in harness.emulator.requests if r.method == "PUT" and "/configuration/" in r.path]


def sections(harness) -> list[str]:  # type: ignore[no-untyped-def]
    return [b["text"]["text"] for c in harness.fake.calls for b in c.args.get("blocks") or []
            if b.get("type") == "section" and "text" in b]


async def test_deeply_nested_json_is_refused_plainly(harness) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 5000 + "]" * 5000
    await harness.command(f"/group config FieldTest SoracomAir deep={deep}", user=OPERATOR)
    told = harness.all_text()
    assert "5,000 levels" in told and "at most 32" in told and "went wrong" not in told
    assert not config_puts(harness)
    assert [e.result for e in await audit.latest(harness.rt.db, 5) if e.action == "group.config"] == ["refused"]


async def test_json_at_the_depth_limit_is_accepted(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/group config FieldTest SoracomAir ok={'[' * 32}1{']' * 32}", user=OPERATOR)
    assert len(config_puts(harness)) == 1


async def test_a_megabyte_value_is_refused_before_soracom(harness) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    await harness.command(f'/group config FieldTest SoracomAir big="{"a" * 1_000_000}"', user=OPERATOR)
    assert time.monotonic() - started < 2
    told = "\n".join(harness.texts(OPERATOR))
    assert "1,000,034 characters long; at most 80,000" in told and not config_puts(harness)
    assert all(len(c.args.get("text") or "") < 1000 for c in harness.fake.calls)


async def test_a_value_over_64_kb_is_refused_before_soracom(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f'/group config FieldTest SoracomAir big="{"é" * 35_000}"', user=OPERATOR)
    told = "\n".join(harness.texts(OPERATOR))
    assert "70,002 bytes; at most 65,536" in told and not config_puts(harness)
    assert [e.result for e in await audit.latest(harness.rt.db, 5) if e.action == "group.config"] == ["refused"]


async def test_a_large_accepted_value_is_posted_within_slack_limits(harness) -> None:  # type: ignore[no-untyped-def]
    value = "<b>" * 20_000  # 60,000 characters, within the 64 KB bound; escaped it grows to 180,000
    await harness.command(f'/group config FieldTest SoracomAir big="{value}"', user=OPERATOR)
    assert group_named(harness, "FieldTest")["configuration"]["SoracomAir"]["big"] == value
    post = harness.fake.calls_to("chat.postMessage")[-1].args
    assert len(post["text"]) == 40_000 and post["text"].endswith("…")
    assert all(len(s) <= 3000 for s in sections(harness)) and sections(harness)[0].endswith("…")
    recorded = [e for e in await audit.latest(harness.rt.db, 5) if e.action == "group.config"]
    assert recorded[0].result == "ok"
    assert value in recorded[0].command  # the post was cut; the audit log keeps the whole text


async def test_echoed_input_is_cut_to_fit_slack(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim show {'x' * 50_000}", user=VIEWER)
    assert all(len(c.args.get("text") or "") <= 40_000 for c in harness.fake.calls)
    assert any("No SIM is named" in s and s.endswith("…") for s in sections(harness))


async def test_tags_beyond_the_bounds_are_refused(harness) -> None:  # type: ignore[no-untyped-def]
    before = dict(harness.emulator.subscribers[SENSOR_01]["tags"])
    await harness.command(f"/sim tag {SENSOR_01} note={'v' * 1025}", user=OPERATOR)
    await harness.command(f"/sim tag {SENSOR_01} {'k' * 129}=v", user=OPERATOR)
    await harness.command(f"/group create {'g' * 1025}", user=OPERATOR)
    told = "\n".join(harness.texts(OPERATOR))
    assert "1,025 characters; at most 1,024" in told and "129 characters; at most 128" in told
    assert harness.emulator.subscribers[SENSOR_01]["tags"] == before
    assert not any(g["tags"].get("name", "").startswith("ggg") for g in harness.emulator.groups.values())
    await harness.command(f"/sim tag {SENSOR_01} note={'v' * 1024}", user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_01]["tags"]["note"] == "v" * 1024


async def test_nested_quotes_do_not_recurse(harness) -> None:  # type: ignore[no-untyped-def]
    quotes = "'" * 4000
    await harness.command(f"/group config FieldTest SoracomAir q={quotes}", user=OPERATOR)
    assert "went wrong" not in harness.all_text()
