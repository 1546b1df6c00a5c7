"""Bulk activation of many SIMs through the real bot path, against the API's floor and a plain client.

The bot is driven as Slack drives it: a signed `/sim activate tag:…` command, its preview, a press of Confirm;
the embedded emulator answers every call after --latency seconds; the database is a SQLite file. Measured in the
same run: a plain client (8 workers calling SORACOM's activate, nothing else) on the same emulator. The floor is
what the API allows: SIMs × latency / concurrency.

    python bench/bulk.py [--sims 1000] [--latency 0.01] [--concurrency 8] [--repeat 3] [--memory]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, EmulatorState, create_app  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.security.roles import Role  # noqa: E402
from bot.services import audit  # noqa: E402
from bot.services.roles import set_role  # noqa: E402
from bot.soracom import AuthKeyCredentials, SoracomClient  # noqa: E402

ENDPOINT = "http://soracom-emulator.localhost"
OPERATOR, CHANNEL, TAG = "U_BENCH", "C_BENCH", "bench"


def fleet(state: EmulatorState, count: int) -> list[str]:
    added = state.add_subscribers(count, status="ready")
    for sub in added:
        sub["tags"]["fleet"] = TAG
    return [sub["imsi"] for sub in added]


def activations(state: EmulatorState) -> Counter[str]:
    """Activate calls the emulator received, per IMSI (answered or not)."""
    return Counter(r.path.split("/")[3] for r in state.requests if r.operation_id == "activateSubscriber")


async def plain_client(count: int, latency: float, concurrency: int) -> tuple[float, float]:
    """8 workers taking IMSIs from a queue and activating them: the least any client can spend."""
    state = EmulatorState()
    imsis = fleet(state, count)
    async with SoracomClient(ENDPOINT, AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                             transport=httpx.ASGITransport(app=create_app(state))) as client:
        await client.auth()
        state.faults.latency = latency
        queue: asyncio.Queue[str] = asyncio.Queue()
        for imsi in imsis:
            queue.put_nowait(imsi)

        async def worker() -> None:
            while not queue.empty():
                await client.activate_subscriber(queue.get_nowait())

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(state.subscribers[i]["status"] == "active" for i in imsis)
    return seconds, cpu


async def through_the_bot(count: int, latency: float, tmp: str, *, traced: bool = False) -> dict[str, float | int]:
    settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                        BOT_ADMINS="U_ADMIN")
    state = EmulatorState()
    imsis = fleet(state, count)
    async with LocalBot(settings, emulator=state) as local:
        assert local.sender is not None and local.rt is not None
        await set_role(local.rt.db, OPERATOR, Role.operator, granted_by="U_ADMIN")
        await local.rt.soracom.auth()  # authentication is in neither figure
        state.faults.latency = latency
        started = time.perf_counter()
        await local.sender.command("/sim", f"activate tag:fleet={TAG}", user_id=OPERATOR, channel_id=CHANNEL)
        await local.settle()
        preview = time.perf_counter() - started
        confirm = next(call for call in reversed(local.fake.calls) if "pending_confirm" in str(call.args.get("blocks")))
        message = {"ts": (confirm.response or {}).get("ts") or (confirm.response or {}).get("message_ts"),
                   "blocks": confirm.args["blocks"], "text": confirm.args.get("text", "")}
        value = next(element["value"] for block in message["blocks"] for element in block.get("elements", [])
                     if element.get("action_id") == "pending_confirm")
        started, cpu = time.perf_counter(), time.process_time()
        with retained_memory(traced) as retained:
            await local.sender.block_action("pending_confirm", value, user_id=OPERATOR, channel_id=CHANNEL,
                                            message=message)
            await local.settle(timeout=300)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = Counter(e.target for e in await audit.latest(local.rt.db, count * 2) if e.action == "sim.activate"
                       and e.result == "ok")
    calls = activations(state)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "preview": preview,
        "lost": sum(1 for i in imsis if state.subscribers[i]["status"] != "active"),
        "unaudited": sum(1 for i in imsis if rows[i] != 1),
        "duplicates": sum(n - 1 for n in calls.values() if n > 1),
        "peak": state.peak_concurrency,
        "memory": retained[0],
    }


# Allocations made for the stand-ins' own records (the emulator's log of requests, the fake Slack's of calls) are
# not the bot's: a real SORACOM and a real Slack keep theirs elsewhere.
STAND_INS = [tracemalloc.Filter(False, pattern, all_frames=True)
             for pattern in ("*/bot/emulator/*", "*/bot/localslack/*", "*/httpx/_transports/asgi.py")]


@contextlib.contextmanager
def retained_memory(traced: bool) -> Iterator[list[float]]:
    """Bytes the block left allocated (after a full garbage collection), the stand-ins' records left out."""
    retained = [0.0]
    if not traced:
        yield retained
        return
    tracemalloc.start(16)
    try:
        before = tracemalloc.take_snapshot().filter_traces(STAND_INS)
        yield retained
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(STAND_INS)
        retained[0] = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    finally:
        tracemalloc.stop()


async def memory(count: int, latency: float) -> int:
    """What a run leaves in memory at `count` SIMs and at 10x as many: flat when the bot keeps nothing per SIM."""
    print("memory left by a bulk activate, stand-ins' records left out (traced, so slower; not timed):")
    left = []
    for sims in (count, 10 * count):
        with tempfile.TemporaryDirectory() as tmp:
            left.append(float((await through_the_bot(sims, latency, tmp, traced=True))["memory"]))
        print(f"  {sims:6d} SIMs: {left[-1] / 2**10:8.1f} KiB, {left[-1] / sims:6.0f} bytes a SIM")
    print(f"  10x the SIMs: {left[1] / left[0]:.2f}x the memory")
    return 0


async def main(count: int, latency: float, concurrency: int, repeat: int) -> int:
    floor = count * latency / concurrency
    plains: list[float] = []
    plain_cpus: list[float] = []
    bots: list[dict[str, float | int]] = []
    for _ in range(repeat):  # alternating, so that a slower minute of the machine weighs on both
        plain, plain_cpu = await plain_client(count, latency, concurrency)
        plains.append(plain)
        plain_cpus.append(plain_cpu)
        with tempfile.TemporaryDirectory() as tmp:
            bots.append(await through_the_bot(count, latency, tmp))
    plain, seconds = statistics.median(plains), statistics.median(b["seconds"] for b in bots)
    ratio = seconds / floor
    runs = ", ".join(f"{b['seconds'] / floor:.2f}x" for b in bots)
    print(f"bulk activate of {count} SIMs, emulator latency {latency * 1000:.0f} ms a call, {concurrency} in flight, "
          f"SQLite file; median of {repeat} runs")
    print(f"  floor ({count} x {latency * 1000:.0f} ms / {concurrency}):        {floor:6.2f} s")
    print(f"  plain client, {concurrency} workers:         {plain:6.2f} s   {plain / floor:4.2f}x the floor")
    print(f"  bot, Confirm press to last write:  {seconds:6.2f} s   {ratio:4.2f}x the floor, "
          f"{seconds / plain:4.2f}x the plain client   (target <= 1.3x the floor; runs: {runs})")
    print(f"  CPU per SIM (this process, the emulator included): "
          f"plain client {statistics.median(plain_cpus) / count * 1000:.2f} ms, "
          f"bot {statistics.median(b['cpu'] for b in bots) / count * 1000:.2f} ms")
    print(f"  (preview of the command: {statistics.median(b['preview'] for b in bots):.2f} s; "
          f"peak concurrency at the emulator {max(b['peak'] for b in bots)})")
    lost, unaudited, duplicates = (sum(int(b[key]) for b in bots) for key in ("lost", "unaudited", "duplicates"))
    print(f"  over all runs: lost (not active): {lost}   without exactly one audit row: {unaudited}   "
          f"duplicate activate calls: {duplicates}")
    ok = ratio <= 1.3 and lost == 0 and unaudited == 0 and duplicates == 0
    print("  PASS" if ok else "  FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.01, help="seconds the emulator waits per call")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    parser.add_argument("--memory", action="store_true", help="the memory a run leaves, at --sims and 10x")
    options = parser.parse_args()
    if options.memory:
        sys.exit(asyncio.run(memory(options.sims, options.latency)))
    sys.exit(asyncio.run(main(options.sims, options.latency, options.concurrency, options.repeat)))
