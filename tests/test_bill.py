"""/bill end to end: signed slash commands in, the emulator as SORACOM, the stand-in as Slack; PNG charts decoded."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image, ImageColor

from bot.charts import BAR, COMPARISON, Chart, Line, render
from bot.emulator import create_app
from bot.emulator.bills import daily_amounts, item_breakdown, month_days, sim_breakdown
from bot.services import audit
from handlers import bill_summary as scheduler
from tests.conftest import ADMIN, OPERATOR, VIEWER
from tests.harness import Harness

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def private_replies(harness: Harness, user: str) -> list[dict[str, Any]]:
    """What the bot answered `user` privately (through the command's response_url)."""
    return [c.args for c in harness.fake.calls_to("response_url")
            if c.args.get("response_type") == "ephemeral" and c.effect and c.effect.get("user") == user]


def reply_text(harness: Harness, user: str) -> str:
    replies = private_replies(harness, user)
    assert replies, f"nothing was said privately to {user}"
    return "\n".join(f"{r.get('text')} {json.dumps(r.get('blocks'), ensure_ascii=False)}" for r in replies)


def amount(value: float) -> str:
    return f"¥{value:,.0f}"


def this_month(harness: Harness) -> str:
    return harness.clock.now.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y%m")


def next_month(year_month: str) -> str:
    year, month = int(year_month[:4]), int(year_month[4:])
    return f"{year + 1}01" if month == 12 else f"{year}{month + 1:02d}"


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Width, height and RGB rows of a PNG (Pillow reads it, checking its chunks)."""
    assert data[:8] == PNG_SIGNATURE
    image = Image.open(io.BytesIO(data))
    image.load()
    rgb = image.convert("RGB")
    width, height = rgb.size
    pixels = list(rgb.getdata())
    return width, height, [pixels[y * width : (y + 1) * width] for y in range(height)]


def png_title(data: bytes) -> str:
    return Image.open(io.BytesIO(data)).text["Title"]  # type: ignore[attr-defined]


def colour_pixels(data: bytes, colour: str) -> int:
    _, _, rows = decode_png(data)
    wanted = ImageColor.getrgb(colour)
    return sum(pixel == wanted for row in rows for pixel in row)


def bar_heights(data: bytes, gap: int = 6) -> list[int]:
    """The height in pixels of each bar, left to right, measured up from the base line the bars stand on; a line
    drawn across a bar (at most `gap` pixels thick) does not cut it."""
    width, _, rows = decode_png(data)
    bar = ImageColor.getrgb(BAR)
    base = max((y for y, row in enumerate(rows) if bar in row), default=None)
    if base is None:
        return []

    def column(x: int) -> int:
        top, misses, y = -1, 0, base
        while y >= 0 and misses <= gap:
            if rows[y][x] == bar:
                top, misses = y, 0
            else:
                misses += 1
            y -= 1
        return base - top + 1 if top >= 0 else 0

    heights, current = [], 0
    for x in range(width):
        height = column(x) if rows[base][x] == bar else 0
        if height:
            current = max(current, height)
        elif current:
            heights.append(current)
            current = 0
    return heights + ([current] if current else [])


# /bill


async def test_bill_of_a_month_shows_the_emulators_figures(harness: Harness) -> None:
    bills = harness.emulator.bills
    change = bills["201908"]["amount"] - bills["201907"]["amount"]
    percent = change * 100 / bills["201907"]["amount"]
    await harness.command("/bill 201908", user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert "¥13,203" in text and "closed" in text and "paid" in text
    assert f"+{amount(change)} (+{percent:.1f}%)" in text
    assert "last four months" in text  # 2019 is outside the summaries' window
    paths = [(r.method, r.path) for r in harness.emulator.requests]
    assert ("GET", "/v1/bills/201908") in paths and ("GET", "/v1/bills/201907") in paths
    assert not harness.fake.calls_to("chat.postMessage")


async def test_bill_defaults_to_this_month_with_items_and_sims(harness: Harness) -> None:
    month = this_month(harness)
    state = harness.emulator
    await harness.command("/bill", user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert f"{amount(state.bills[month]['amount'])}" in text and "temporary" in text
    words = {"dailyChargeTotal": "basic charge", "dailyDataTrafficChargeTotal": "data traffic",
             "dailySoracomBeamRequestChargeTotal": "Beam requests"}
    for item in item_breakdown(state, month):
        line = f"{words[item['billItemName']]}, {item['billItemCategory']} — {amount(item['amount'])}"
        assert line in text
    assert "dailyDataTrafficChargeTotal" not in text
    top_sim = sim_breakdown(state, month)[0]
    [sub] = [s for s in state.subscribers.values() if s["iccid"] == top_sim["simId"]]
    assert f"{sub['tags']['name']} `{sub['imsi']}` — {amount(top_sim['amount'])}" in text
    assert top_sim["simId"] not in text
    assert ("GET", "/v1/bills/summaries/sims") in [(r.method, r.path) for r in state.requests]


async def test_this_month_is_compared_with_the_month_before_through_the_same_day(harness: Harness) -> None:
    """Month to date against a whole month would always read as a fall; the running month is compared with the
    month before's daily charges through the same day."""
    month = this_month(harness)
    before = f"{int(month) - 1}" if month[4:] != "01" else f"{int(month[:4]) - 1}12"
    days = daily_amounts(harness.emulator, month)
    through = max(int(day["date"][6:8]) for day in days)
    now = sum(day["amount"] for day in days)
    then = sum(day["amount"] for day in daily_amounts(harness.emulator, before) if int(day["date"][6:8]) <= through)
    if through < len(month_days(before)):  # else the same day is the whole month before: both comparisons agree
        assert then < harness.emulator.bills[before]["amount"]
    await harness.command("/bill", user=VIEWER)
    text = reply_text(harness, VIEWER)
    sign = "+" if now >= then else "-"
    assert f"days 1–{through}" in text and f"{before[:4]}-{before[4:]}" in text
    assert f"{sign}{amount(abs(now - then))} ({sign}{abs(now - then) * 100 / then:.1f}%)" in text


async def test_month_without_bill_is_said_plainly(harness: Harness) -> None:
    await harness.command("/bill 201501", user=VIEWER)
    assert "no bill for 201501" in reply_text(harness, VIEWER)


@pytest.mark.parametrize("line", ["/bill 2019-13", "/bill 201913", "/bill abc", "/bill 19908", "/bill export 201900",
                                  "/bill daily 2019-13", "/bill daily abc", "/bill 201908 201907", "FUTURE"])
async def test_bad_months_are_refused_before_anything_is_fetched(harness: Harness, line: str) -> None:
    if line == "FUTURE":
        line = f"/bill daily {next_month(this_month(harness))}"
    await harness.command(line, user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert any(words in text for words in ("is not a month", "has not begun", "is not a command", "one month at most"))
    assert harness.emulator.requests == []
    assert harness.fake.files == [] and not harness.fake.calls_to("chat.postMessage")


# /bill export


async def test_export_link_downloads_the_months_csv(harness: Harness) -> None:
    await harness.command("/bill export 201908", user=VIEWER)
    text = reply_text(harness, VIEWER)
    url = re.search(r"<(http[^|>]+)\|", text).group(1)  # type: ignore[union-attr]
    exports = [r for r in harness.emulator.requests if r.path == "/v1/bills/201908/export"]
    assert [r.query.get("export_mode") for r in exports] == ["sync"]
    transport = httpx.ASGITransport(app=create_app(harness.emulator))
    async with httpx.AsyncClient(transport=transport) as http:
        response = await http.get(url)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and {row["date"][:6] for row in rows} == {"201908"}
    assert sum(int(float(row["amount"])) for row in rows) == 13203


async def test_export_waits_for_an_asynchronous_export(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API that answers with an exportedFileId is polled until the file is ready."""
    client = harness.rt.soracom
    original = client.export_billing
    monkeypatch.setattr(client, "export_billing", lambda month: original(month, "async", poll_interval=0))
    await harness.command("/bill export 201909", user=VIEWER)
    assert "/_emulator/exports/fe_" in reply_text(harness, VIEWER)
    assert any(r.path.startswith("/v1/files/exported/") for r in harness.emulator.requests)


# /bill daily


async def test_daily_chart_is_uploaded_with_its_text_form(harness: Harness) -> None:
    await harness.command("/bill daily 201908", user=VIEWER)
    days = sorted(daily_amounts(harness.emulator, "201908"), key=lambda d: d["date"])
    [upload] = harness.fake.files
    assert upload.channels == ["C_OPS"]
    assert upload.content[:8] == PNG_SIGNATURE
    width, height, _ = decode_png(upload.content)
    assert width >= 31 * 10 and height >= 100
    heights = bar_heights(upload.content)
    assert len(heights) == len(days) == 31
    peak = max(range(31), key=lambda i: days[i]["amount"])
    assert heights.index(max(heights)) == peak
    assert png_title(upload.content) == "Daily amounts of 2019-08"
    assert colour_pixels(upload.content, COMPARISON) > 0  # July's line
    assert ("GET", "/v1/bills/201907/daily") in [(r.method, r.path) for r in harness.emulator.requests]
    assert "total ¥13,203" in upload.initial_comment
    assert f"{int(days[0]['date'][6:])}: {amount(days[0]['amount'])}" in upload.initial_comment
    assert [c.method for c in harness.fake.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_daily_falls_back_to_text_when_the_upload_fails(harness: Harness) -> None:
    harness.fake.fail_next("files.completeUploadExternal", "not_in_channel")
    await harness.command("/bill daily 201908", user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert "not_in_channel" in text and "total ¥13,203" in text
    assert harness.fake.files == []


# /bill schedule


async def test_schedule_is_for_admins_checked_stored_and_audited(harness: Harness) -> None:
    rt = harness.rt
    await harness.command("/bill schedule C0BILLS 0 9 1 * *", user=OPERATOR)
    assert "needs the *admin* role" in reply_text(harness, OPERATOR)
    assert (await scheduler.current_schedule(rt)).channel is None
    await harness.command("/bill schedule C0BILLS 0 9 32 * *", user=ADMIN)
    assert "bad cron expression" in reply_text(harness, ADMIN)
    assert (await scheduler.current_schedule(rt)).channel is None
    await harness.command("/bill schedule <#C0BILLS|bills> 30 8 5 * *", user=ADMIN)
    assert await scheduler.current_schedule(rt) == scheduler.Schedule("C0BILLS", "30 8 5 * *", True, ADMIN)
    await harness.command("/bill schedule off", user=ADMIN)
    assert (await scheduler.current_schedule(rt)).active is False
    await harness.command("/bill schedule", user=ADMIN)
    assert "is off, set by <@U_ADMIN>" in reply_text(harness, ADMIN)
    entries = [(e.user_id, e.action, e.target, e.result) for e in await audit.latest(rt.db, 10)][::-1]
    assert entries == [
        (OPERATOR, "bill.schedule", "C0BILLS 0 9 1 * *", "refused"),
        (ADMIN, "bill.schedule", "C0BILLS 0 9 32 * *", "refused"),
        (ADMIN, "bill.schedule", "C0BILLS 30 8 5 * *", "ok"),
        (ADMIN, "bill.schedule", "off", "ok"),
    ]
    assert harness.emulator.requests == []


# The charts


def simple_chart(bars: list[float], labels: list[str], **extra: Any) -> bytes:
    return render(Chart(title="Test chart", x_label="Day", y_label="Amount (JPY)", labels=labels, bars=bars, **extra))


def test_bar_chart_heights_follow_the_values() -> None:
    png = simple_chart([100, 200, 400, 0, 50], ["1", "2", "3", "4", "5"], lines=[Line("across", [150] * 5)])
    heights = bar_heights(png)
    assert len(heights) == 4  # the zero bar has no height
    tallest = heights[2]
    assert [round(h * 400 / tallest) for h in heights] == pytest.approx([100, 200, 400, 50], abs=4)
    assert png_title(png) == "Test chart"


def test_comparison_line_is_drawn() -> None:
    without = simple_chart([100, 200], ["1", "2"])
    with_line = simple_chart([100, 200], ["1", "2"], lines=[Line("last month", [150, 150])])
    assert colour_pixels(without, COMPARISON) == 0 < colour_pixels(with_line, COMPARISON)


def test_bar_chart_of_nothing_is_still_a_picture() -> None:
    width, height, rows = decode_png(simple_chart([], []))
    assert width > 0 and height > 0 and len(rows) == height


def test_japanese_labels_have_their_glyphs(caplog: pytest.LogCaptureFixture) -> None:
    """Every Japanese character finds a glyph (matplotlib warns of each one it has to leave as a box)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = render(Chart(title="日別利用料金 2019-08", x_label="日", y_label="金額 (JPY)", labels=["1", "2"],
                           bars=[1, 2], lines=[Line("前月 (2019-07)", [1, 1])]))
    assert png_title(png) == "日別利用料金 2019-08"
    assert "missing from" not in caplog.text


async def test_breakdown_reads_as_words_in_japanese(harness: Harness) -> None:
    harness.fake.set_locale(VIEWER, "ja-JP")
    month = this_month(harness)
    await harness.command("/bill", user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert "データ通信料金 (Air)" in text and "基本料金 (Air)" in text
    top_sim = sim_breakdown(harness.emulator, month)[0]
    assert top_sim["simId"] not in text


async def test_daily_chart_in_japanese_has_a_japanese_title(harness: Harness) -> None:
    harness.fake.set_locale(VIEWER, "ja-JP")
    await harness.command("/bill daily 201908", user=VIEWER)
    [upload] = harness.fake.files
    assert png_title(upload.content) == "2019-08 の日別利用料金"


async def test_breakdown_names_come_from_the_fleet_snapshot_without_paging(harness: Harness) -> None:
    from bot.services import fleet

    rt = harness.rt
    assert await fleet.refresh(rt.db, rt.soracom, owner="test", clock=rt.clock, zone=rt.settings.timezone,
                               pages_per_second=1000)
    harness.emulator.requests.clear()
    await harness.command("/bill", user=VIEWER)
    top_sim = sim_breakdown(harness.emulator, this_month(harness))[0]
    [sub] = [s for s in harness.emulator.subscribers.values() if s["iccid"] == top_sim["simId"]]
    assert f"{sub['tags']['name']} `{sub['imsi']}`" in reply_text(harness, VIEWER)
    assert "/v1/subscribers" not in [r.path for r in harness.emulator.requests]
