"""Bulk SIM changes: 200 SIMs under a rate limit, progress at the stand-in, one run on a double click; the runner."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from bot.services import audit, sims
from bot.services.bulk import RATE_LIMIT_ATTEMPTS, Progress, run_bulk
from bot.soracom import RateLimited, SoracomError
from tests.conftest import OPERATOR

FLEET = 200


def fleet(harness) -> list[str]:  # type: ignore[no-untyped-def]
    added = harness.emulator.add_subscribers(FLEET, status="ready")
    for sub in added:
        sub["tags"]["fleet"] = "big"
    return [sub["imsi"] for sub in added]


async def double_confirm(harness) -> None:  # type: ignore[no-untyped-def]
    """Two presses of Confirm arriving together, as an impatient double click does."""
    container, element = harness.find_element("pending_confirm")
    press = [harness.local.sender.block_action("pending_confirm", element["value"], user_id=OPERATOR,
                                               channel_id="C_OPS", message=container) for _ in range(2)]
    await asyncio.gather(*press)
    await harness.local.settle()


async def test_200_sims_under_a_rate_limit(harness) -> None:  # type: ignore[no-untyped-def]
    imsis = fleet(harness)
    harness.emulator.faults.rate_limit("/v1/subscribers/", limit=80, per_seconds=1.0, method="POST")
    harness.clock.run()  # SORACOM's window moves on while the bot waits it out

    await harness.command("/sim activate tag:fleet=big")
    preview = harness.all_text()
    assert "*Activate* — 200 SIMs: `tag:fleet=big`" in preview and "…and 195 more" in preview
    assert all(harness.emulator.subscribers[i]["status"] == "ready" for i in imsis)  # nothing before Confirm

    started = time.monotonic()
    await double_confirm(harness)
    elapsed = time.monotonic() - started

    assert all(harness.emulator.subscribers[i]["status"] == "active" for i in imsis)
    activations = [r for r in harness.emulator.requests if r.operation_id == "activateSubscriber"]
    done = Counter(r.path.split("/")[3] for r in activations if r.status == 200)
    assert set(done) == set(imsis) and set(done.values()) == {1}  # each SIM changed once: one run
    assert any(r.status == 429 for r in activations)  # the limit was hit …
    assert 1.0 <= elapsed < 6  # … and waited out
    assert harness.emulator.peak_concurrency <= 8

    posts = [c for c in harness.fake.calls_to("chat.postMessage") if "200 SIMs" in c.args["text"]]
    assert len(posts) == 1
    updates = [c for c in harness.fake.calls_to("chat.update") if c.args["ts"] == posts[0].response["ts"]]
    assert 2 <= len(updates) <= elapsed / 0.5 + 2  # progress shown, but throttled: not one update per SIM
    assert any("left" in u.args["text"] and "left 0" not in u.args["text"] for u in updates[:-1])
    assert "all 200 SIMs done" in updates[-1].args["text"]
    assert "already running; it runs only once" in harness.all_text()

    records = [e for e in await audit.latest(harness.rt.db, 300) if e.action == "sim.activate"]
    assert sorted(e.target for e in records) == sorted(imsis) and {e.result for e in records} == {"ok"}


async def test_bulk_failures_are_reported_and_the_rest_done(harness) -> None:  # type: ignore[no-untyped-def]
    imsis = fleet(harness)[:20]
    for imsi in imsis[:3]:
        harness.emulator.subscribers[imsi]["status"] = "terminated"
    await harness.command("/sim activate tag:fleet=big status:ready status:terminated")
    await harness.press("pending_confirm")
    report = harness.fake.calls_to("chat.update")[-1].args
    text = report["text"] + str(report["blocks"])
    assert "197 of 200 SIMs done" in text and "3 failed" in text
    assert all(f"`{imsi}` (bulk-" in text for imsi in imsis[:3]) and "is terminated" in text
    assert all(harness.emulator.subscribers[i]["status"] == "active" for i in imsis[3:])


# The runner alone


async def test_concurrency_is_bounded() -> None:
    running = peak = 0

    async def work(_: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    result = await run_bulk([str(i) for i in range(40)], work, concurrency=8)
    assert peak == 8 and result.peak_concurrency == 8 and len(result.done) == 40


async def test_an_items_record_overlaps_its_workers_next_call_and_no_more() -> None:
    started: list[str] = []
    records: dict[str, asyncio.Future[None]] = {}

    async def work(item: str) -> None:
        started.append(item)

    def on_item(item: str, reason: str | None) -> asyncio.Future[None]:
        records[item] = asyncio.get_running_loop().create_future()
        return records[item]

    run = asyncio.ensure_future(run_bulk([str(i) for i in range(10)], work, concurrency=2, on_item=on_item))
    for _ in range(20):
        await asyncio.sleep(0)
    # Each worker did its second item while its first was being recorded, and waits for that record now.
    assert sorted(started) == ["0", "1", "2", "3"] and len(records) == 2 and set(records) < set(started)
    while not run.done():
        for record in records.values():
            if not record.done():
                record.set_result(None)
        await asyncio.sleep(0)
    assert sorted(run.result().done) == sorted(records) == sorted(started) == sorted(str(i) for i in range(10))


async def test_rate_limited_pauses_everyone_slows_down_and_completes() -> None:
    loop = asyncio.get_running_loop()
    refusals = {"3": 1, "20": 1}  # item → 429s it still answers
    starts: list[tuple[float, int]] = []  # (when, calls running then)
    limited_at: list[float] = []
    running = 0

    async def work(item: str) -> None:
        nonlocal running
        running += 1
        starts.append((loop.time(), running))
        try:
            await asyncio.sleep(0.002)
            if refusals.get(item):
                refusals[item] -= 1
                limited_at.append(loop.time())
                raise RateLimited(429, "COM0008", "Rate limit exceeded.", retry_after=0.05)
        finally:
            running -= 1

    result = await run_bulk([str(i) for i in range(40)], work, concurrency=8)
    assert len(result.done) == 40 and not result.failures and result.rate_limited == 2
    first = limited_at[0]
    assert not [at for at, _ in starts if first < at < first + 0.045]  # every worker waited as told
    after = [now_running for at, now_running in starts if at >= first + 0.045]
    assert max(after[:4]) <= 4  # and fewer calls ran at once afterwards


async def test_an_item_that_stays_rate_limited_fails_with_a_reason() -> None:
    attempts = Counter()

    async def work(item: str) -> None:
        attempts[item] += 1
        if item == "stuck":
            raise RateLimited(429, "COM0008", "Rate limit exceeded.", retry_after=0.001)

    result = await run_bulk(["a", "stuck", "b"], work, describe=lambda e: getattr(e, "message", str(e)))
    assert sorted(result.done) == ["a", "b"]
    assert [(f.item, f.reason) for f in result.failures] == [("stuck", "Rate limit exceeded.")]
    assert attempts["stuck"] == RATE_LIMIT_ATTEMPTS


async def test_failures_do_not_stop_the_others_and_each_item_is_recorded() -> None:
    ended: list[tuple[str, str | None]] = []

    async def work(item: str) -> None:
        if item.startswith("bad"):
            raise SoracomError(400, "SEM0005", f"{item} refused")

    result = await run_bulk(["ok1", "bad1", "ok2", "bad2"], work, describe=sims.failure_reason,
                            on_item=lambda item, reason: ended.append((item, reason)))
    assert sorted(ended) == [("bad1", "bad1 refused (SEM0005)"), ("bad2", "bad2 refused (SEM0005)"),
                             ("ok1", None), ("ok2", None)]
    assert result.progress == Progress(4, 2, 2)


async def test_progress_is_throttled() -> None:
    reports: list[Progress] = []

    async def work(_: str) -> None:
        await asyncio.sleep(0.01)

    async def on_progress(progress: Progress) -> None:
        reports.append(progress)

    result = await run_bulk([str(i) for i in range(60)], work, concurrency=2, on_progress=on_progress,
                            progress_interval=0.05)
    assert 2 <= len(reports) <= result.seconds / 0.05 + 1  # far fewer than one per item
    assert [r.done for r in reports] == sorted(r.done for r in reports) and reports[-1].left > 0
