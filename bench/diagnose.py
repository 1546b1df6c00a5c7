"""`/sim diagnose`: time to the first answer with SORACOM answering each call after 50 ms, against the same reads
made one after another by the client alone (the baseline, measured in the same run), and the calls it makes.

The first answer waits for the SIM lookup and one concurrent round of reads (session events then their cells'
places, status history, 24 h of traffic, the group, SORACOM's diagnosis asked for); SORACOM's diagnosis, which takes
longer, updates the same message afterwards. Target: first answer p95 ≤ 1.5 s.

    python bench/diagnose.py [--latency 0.05] [--runs 20] [--sim meter-02]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.emulator import EmulatorState  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.services import devices  # noqa: E402

TARGET_P95 = 1.5


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(len(ordered) * 0.95))]


def summary(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms   p95 {p95(samples) * 1000:7.1f} ms"


async def first_reply(local: LocalBot, sim: str) -> tuple[float, float, datetime]:
    """Seconds to the first answer and to the updated one, and when the command was sent (emulator clock)."""
    assert local.sender is not None
    fake = local.fake
    before = len(fake.calls_to("response_url"))
    sent_at = datetime.now().astimezone()
    start = time.perf_counter()
    await local.sender.command("/sim", f"diagnose {sim}", user_id="U_OP", channel_id="C_OPS")
    while len(fake.calls_to("response_url")) == before:
        await asyncio.sleep(0.002)
    first = time.perf_counter() - start
    await local.settle()
    return first, time.perf_counter() - start, sent_at


async def sequential_reads(local: LocalBot, sim: str) -> float:
    """The baseline: the first answer's reads, one after another, through the same client."""
    assert local.rt is not None
    client = local.rt.soracom
    now = local.rt.clock()
    start = time.perf_counter()
    found = [s async for s in client.iter_subscribers(tag_name="name", tag_value=sim)][0]
    assert found.imsi and found.iccid
    events = await client.list_session_events(found.imsi, limit=devices.SESSIONS_READ)
    cells = [{"mcc": str(e.cell.mcc), "mnc": str(e.cell.mnc), "tac": str(e.cell.tac), "ecid": str(e.cell.eci)}
             for e in events.items if e.cell]
    if cells:
        await client.batch_get_cell_locations(cells[:1])
    await client.list_sim_status_history(found.iccid, sort="desc", limit=devices.HISTORY_SHOWN)
    since = now - timedelta(hours=devices.TRAFFIC_HOURS)
    await client.get_air_stats(found.imsi, int(since.timestamp()), int(now.timestamp()), period="minutes")
    if found.groupId:
        await client.get_group(found.groupId)
    await client.send_diagnostic_request(found.iccid)
    return time.perf_counter() - start


async def main(latency: float, runs: int, sim: str) -> None:
    state = EmulatorState()
    devices.DIAGNOSIS_INTERVAL = 0.05  # the update after the first answer is not what is measured here
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS="U_OP")
        async with LocalBot(settings, emulator=state) as local:
            await first_reply(local, sim)  # warm-up: authentication, the user's language, imports
            state.faults.latency = latency
            baseline, firsts, fulls = [], [], []
            calls_of_one: list[tuple[float, str]] = []
            peak = 0
            for run in range(runs):
                baseline.append(await sequential_reads(local, sim))
                state.peak_concurrency = 0
                mark = len(state.requests)
                first, full, sent_at = await first_reply(local, sim)
                firsts.append(first)
                fulls.append(full)
                peak = max(peak, state.peak_concurrency)
                if run == 0:
                    calls_of_one = [((r.at - sent_at).total_seconds(), r.operation_id or r.path)
                                    for r in state.requests[mark:]]

    print(f"/sim diagnose {sim}: SORACOM answering each call after {latency * 1000:.0f} ms, {runs} runs")
    print(f"  baseline: the same reads one after another   {summary(baseline)}")
    print(f"  bot: command → first answer                  {summary(firsts)}")
    print(f"  bot: command → answer with SORACOM's diagnosis {summary(fulls)}")
    print(f"  ratio (first answer / sequential reads, median): "
          f"{statistics.median(firsts) / statistics.median(baseline):.2f}")
    print(f"  first answer p95 {p95(firsts):.3f} s — target ≤ {TARGET_P95} s: "
          f"{'met' if p95(firsts) <= TARGET_P95 else 'NOT met'}")
    print(f"  most SORACOM calls in flight at once: {peak}")
    print("  calls of one diagnosis (start, ms after the command):")
    for offset, operation in calls_of_one:
        print(f"    {offset * 1000:7.1f}  {operation}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sim", default="meter-02")
    options = parser.parse_args()
    asyncio.run(main(options.latency, options.runs, options.sim))
