"""`/sim list` on a large fleet, read live and from the fleet snapshot: time and memory of the whole command against
the least work that can count a fleet (paging through every SIM with the client),
measured in the same run on the same emulator.

SORACOM has no count call, so counts by status read every SIM: one listSubscribers call per 100. This checks that
the bot adds little on top of that, keeps memory flat (it streams pages, it does not hold the fleet), and answers
Slack at once.

    python bench/fleet_list.py [--sims 5000] [--latency 0.005]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, EmulatorState, create_app  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.services import fleet  # noqa: E402
from bot.soracom import AuthKeyCredentials, SoracomClient  # noqa: E402


async def measured(work) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Seconds and peak traced memory (MiB) of one awaited piece of work."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, result


async def main(count: int, latency: float) -> None:
    state = EmulatorState()
    state.add_subscribers(count - len(state.subscribers))
    state.faults.latency = latency

    async with SoracomClient("http://soracom-emulator.localhost",
                             AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                             transport=httpx.ASGITransport(app=create_app(state))) as client:
        await client.list_subscribers(limit=1)  # authenticate outside the measurement

        async def page_through() -> int:
            return sum([1 async for _ in client.iter_subscribers(limit=100)])

        base_s, base_mib, seen = await measured(page_through)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS="U_OP")
        async with LocalBot(settings, emulator=state) as local:
            assert local.sender is not None
            await local.sender.command("/sim", "help", user_id="U_OP", channel_id="C1")  # warm up, authenticate
            await local.settle()
            calls_before = len(state.requests)
            ack: list[float] = []

            async def whole_command() -> None:
                start = time.perf_counter()
                await local.sender.command("/sim", "list", user_id="U_OP", channel_id="C1")
                ack.append(time.perf_counter() - start)
                await local.settle()

            bot_s, bot_mib, _ = await measured(whole_command)
            calls = len(state.requests) - calls_before
            reply = local.fake.calls_to("response_url")[-1].args["text"]

            # The same command once the fleet snapshot is fresh (the background refresh keeps it so).
            rt = local.rt
            assert rt is not None
            refresh_start = time.perf_counter()
            await fleet.refresh(rt.db, rt.soracom, owner="bench", clock=rt.clock, zone=rt.settings.timezone)
            refresh_s = time.perf_counter() - refresh_start
            calls_before = len(state.requests)
            snap_s, snap_mib, _ = await measured(whole_command)
            snap_calls = len(state.requests) - calls_before
            snap_reply = local.fake.calls_to("response_url")[-1].args

    print(f"{count} SIMs, emulator latency {latency * 1000:.0f} ms a call")
    print(f"  baseline: page through every SIM  {base_s:6.2f} s   peak {base_mib:6.1f} MiB   ({seen} SIMs)")
    print(f"  bot: /sim list, until the reply   {bot_s:6.2f} s   peak {bot_mib:6.1f} MiB   ({calls} SORACOM calls)")
    print(f"  ratio (bot / baseline): time {bot_s / base_s:.2f}, memory {bot_mib / base_mib:.2f}")
    print(f"  time to ack Slack: {ack[0] * 1000:.1f} ms;  reply: {reply[:80]}")
    age = next((b["elements"][0]["text"] for b in snap_reply["blocks"] if b.get("type") == "context"
                and "Snapshot" in b["elements"][0]["text"]), "")
    print(f"  snapshot refresh (background, bounded rate): {refresh_s:6.2f} s")
    print(f"  bot: /sim list from a fresh snapshot {snap_s:6.2f} s   peak {snap_mib:6.1f} MiB   "
          f"({snap_calls} SORACOM calls)")
    print(f"  reply: {snap_reply['text'][:80]}  [{age[:60]}]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.005)
    options = parser.parse_args()
    asyncio.run(main(options.sims, options.latency))
