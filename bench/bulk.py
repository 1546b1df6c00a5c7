"""Bulk activation of many SIMs through the real bot path, against the API's floor and a bare client.

SORACOM is the emulator in a process of its own (bench/fake_soracom.py), answering every call after --latency
seconds. The bot runs in this process, as Slack drives it: a signed `/sim activate tag:…` command, its preview, a
press of Confirm; it reaches SORACOM over loopback HTTP with the credentials a real deployment would hold; the
database is a SQLite file. Measured in the same run, alternately with the bot: a bare aiohttp client in a process
of its own (--concurrency workers calling activate, nothing else) against the same emulator. The floor is what the
API allows: SIMs × latency / concurrency.

The bot's CPU is this process's CPU time (time.process_time: every thread, the database threads included) from the
Confirm press until the job has ended, divided by the SIMs; this process holds the bot, its database threads and
the Slack stand-in (a few progress updates), not SORACOM. The bare client's is measured the same way in its process.

    python bench/bulk.py [--sims 1000 10000] [--latency 0.01] [--concurrency 8] [--repeat 5] [--memory]
                         [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.security.roles import Role  # noqa: E402
from bot.services import audit  # noqa: E402
from bot.services.roles import set_role  # noqa: E402
from bench.fake_soracom import FakeSoracom  # noqa: E402

OPERATOR, CHANNEL = "U_BENCH", "C_BENCH"
CPU_BOUND = 0.0006  # seconds of the bot's CPU per SIM
RATIO_BOUND = 1.3  # the bot's time over the floor


# ---- the bare client, in a process of its own ------------------------------------------------------------------


async def bare_client(url: str, imsis: list[str], concurrency: int) -> dict[str, float]:
    """--concurrency aiohttp workers taking IMSIs from a list and activating them: the least any client spends."""
    import aiohttp

    async with aiohttp.ClientSession(base_url=url) as session:
        async with session.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY}) as auth:
            body = await auth.json()
        headers = {"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]}
        queue = list(reversed(imsis))

        async def worker() -> None:
            while queue:
                async with session.post(f"/v1/subscribers/{queue.pop()}/activate", headers=headers) as response:
                    await response.read()
                    response.raise_for_status()

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def run_bare(soracom: FakeSoracom, imsis: list[str], concurrency: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--bare", soracom.url, "--concurrency", str(concurrency)],
                          input=json.dumps(imsis), capture_output=True, text=True, cwd=ROOT, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---- the bot ---------------------------------------------------------------------------------------------------


async def through_the_bot(soracom: FakeSoracom, imsis: list[str], tag: str, latency: float, tmp: str, *,
                          traced: bool = False, profiler: Any = None) -> dict[str, float | int]:
    settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                        BOT_ADMINS="U_ADMIN", SORACOM_ENDPOINT=soracom.url, SORACOM_AUTH_KEY_ID=DEMO_AUTH_KEY_ID,
                        SORACOM_AUTH_KEY=DEMO_AUTH_KEY)
    count = len(imsis)
    async with LocalBot(settings) as local:
        assert local.sender is not None and local.rt is not None
        await set_role(local.rt.db, OPERATOR, Role.operator, granted_by="U_ADMIN")
        await local.rt.soracom.auth()  # authentication is in neither figure
        soracom.latency(latency)
        started = time.perf_counter()
        await local.sender.command("/sim", f"activate tag:fleet={tag}", user_id=OPERATOR, channel_id=CHANNEL)
        await local.settle(timeout=600)
        preview = time.perf_counter() - started
        confirm = next(call for call in reversed(local.fake.calls) if "pending_confirm" in str(call.args.get("blocks")))
        message = {"ts": (confirm.response or {}).get("ts") or (confirm.response or {}).get("message_ts"),
                   "blocks": confirm.args["blocks"], "text": confirm.args.get("text", "")}
        value = next(element["value"] for block in message["blocks"] for element in block.get("elements", [])
                     if element.get("action_id") == "pending_confirm")
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        with retained_memory(traced) as retained:
            await local.sender.block_action("pending_confirm", value, user_id=OPERATOR, channel_id=CHANNEL,
                                            message=message)
            await local.settle(timeout=600)
        if profiler is not None:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = Counter(e.target for e in await audit.latest(local.rt.db, count * 2) if e.action == "sim.activate"
                       and e.result == "ok")
    calls, answered, peak = soracom.activations()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "preview": preview,
        "lost": sum(1 for i in imsis if not answered[i]),
        "unaudited": sum(1 for i in imsis if rows[i] != 1),
        "duplicates": sum(n - 1 for n in calls.values() if n > 1),
        "peak": peak,
        "memory": retained[0],
    }


# Allocations made for the stand-in's own records (the fake Slack's log of calls) are not the bot's.
STAND_INS = [tracemalloc.Filter(False, pattern, all_frames=True) for pattern in ("*/bot/localslack/*",)]


@contextlib.contextmanager
def retained_memory(traced: bool) -> Iterator[list[float]]:
    """Bytes the block left allocated (after a full garbage collection), the stand-in's records left out."""
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


async def memory(soracom: FakeSoracom, count: int, latency: float) -> int:
    """What a run leaves in memory at `count` SIMs and at 10x as many: flat when the bot keeps nothing per SIM."""
    print("memory left by a bulk activate, the stand-in's records left out (traced, so slower; not timed):")
    left = []
    for sims in (count, 10 * count):
        imsis = soracom.ready_sims(sims, "memory")
        with tempfile.TemporaryDirectory() as tmp:
            left.append(float((await through_the_bot(soracom, imsis, "memory", latency, tmp, traced=True))["memory"]))
        print(f"  {sims:6d} SIMs: {left[-1] / 2**10:8.1f} KiB, {left[-1] / sims:6.0f} bytes a SIM")
    print(f"  10x the SIMs: {left[1] / left[0]:.2f}x the memory")
    return 0


async def profile(soracom: FakeSoracom, count: int, latency: float, out: str) -> int:
    """One bot run under cProfile (the event loop's thread only; the database threads are not in it)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    imsis = soracom.ready_sims(count, "profile")
    with tempfile.TemporaryDirectory() as tmp:
        run = await through_the_bot(soracom, imsis, "profile", latency, tmp, profiler=profiler)
    profiler.dump_stats(out)
    print(f"{count} SIMs under cProfile: {run['seconds']:.2f} s, CPU {run['cpu'] / count * 1000:.2f} ms a SIM; "
          f"stats in {out}")
    for key in ("cumulative", "tottime"):
        pstats.Stats(out).sort_stats(key).print_stats(20)
    return 0


async def measure(soracom: FakeSoracom, count: int, latency: float, concurrency: int, repeat: int) -> bool:
    floor = count * latency / concurrency
    bares: list[dict[str, float]] = []
    bots: list[dict[str, float | int]] = []
    print(f"bulk activate of {count} SIMs, fake SORACOM (its own process) at {latency * 1000:.0f} ms a call, "
          f"{concurrency} in flight, SQLite file; floor {count} x {latency * 1000:.0f} ms / {concurrency} = "
          f"{floor:.2f} s")
    for run in range(1, repeat + 1):  # alternating, so that a slower minute of the machine weighs on both
        imsis = soracom.ready_sims(count, f"bare{run}")
        soracom.latency(latency)
        bares.append(run_bare(soracom, imsis, concurrency))
        imsis = soracom.ready_sims(count, f"bot{run}")
        with tempfile.TemporaryDirectory() as tmp:
            bots.append(await through_the_bot(soracom, imsis, f"bot{run}", latency, tmp))
        bare, bot = bares[-1], bots[-1]
        print(f"  run {run}: bare client {bare['seconds']:6.2f} s {bare['seconds'] / floor:4.2f}x the floor, "
              f"CPU {bare['cpu'] / count * 1000:.3f} ms a SIM | bot {bot['seconds']:6.2f} s "
              f"{bot['seconds'] / floor:4.2f}x the floor ({bot['seconds'] / bare['seconds']:4.2f}x the bare client), "
              f"CPU {bot['cpu'] / count * 1000:.3f} ms a SIM | load {os.getloadavg()[0]:.1f}", flush=True)
    bare_s, bot_s = statistics.median(b["seconds"] for b in bares), statistics.median(b["seconds"] for b in bots)
    bare_cpu = statistics.median(b["cpu"] for b in bares) / count
    bot_cpu = statistics.median(b["cpu"] for b in bots) / count
    ratio = bot_s / floor
    print(f"  median of {repeat}: floor {floor:.2f} s | bare client {bare_s:.2f} s {bare_s / floor:.2f}x | "
          f"bot {bot_s:.2f} s {ratio:.2f}x the floor (bound {RATIO_BOUND}x) | CPU a SIM: bot {bot_cpu * 1000:.3f} ms "
          f"(bound {CPU_BOUND * 1000:.1f} ms), bare client {bare_cpu * 1000:.3f} ms")
    print(f"  preview of the command: {statistics.median(b['preview'] for b in bots):.2f} s; peak concurrency at "
          f"SORACOM {max(int(b['peak']) for b in bots)}")
    lost, unaudited, duplicates = (sum(int(b[key]) for b in bots) for key in ("lost", "unaudited", "duplicates"))
    print(f"  over all runs: not activated: {lost}   without exactly one audit row: {unaudited}   "
          f"duplicate activate calls: {duplicates}")
    ok = ratio <= RATIO_BOUND and bot_cpu <= CPU_BOUND and lost == 0 and unaudited == 0 and duplicates == 0
    print("  PASS" if ok else "  FAIL", flush=True)
    return ok


async def main(options: argparse.Namespace) -> int:
    soracom = FakeSoracom()
    try:
        if options.memory:
            return await memory(soracom, options.sims[0], options.latency)
        if options.profile:
            return await profile(soracom, options.sims[0], options.latency, options.profile)
        results = [await measure(soracom, count, options.latency, options.concurrency, options.repeat)
                   for count in options.sims]
        return 0 if all(results) else 1
    finally:
        soracom.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency", type=float, default=0.01, help="seconds the emulator waits per call")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; every run printed, the median counts")
    parser.add_argument("--memory", action="store_true", help="the memory a run leaves, at --sims and 10x")
    parser.add_argument("--profile", metavar="FILE", help="one bot run at --sims under cProfile, stats to FILE")
    parser.add_argument("--bare", metavar="URL", help=argparse.SUPPRESS)  # the bare client's own process
    options = parser.parse_args()
    if options.bare:
        print(json.dumps(asyncio.run(bare_client(options.bare, json.loads(sys.stdin.read()), options.concurrency))))
        sys.exit(0)
    sys.exit(asyncio.run(main(options)))
