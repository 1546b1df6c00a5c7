"""Does the bot still ack while another connection holds the SQLite write lock?

The bot is served by uvicorn in a process of its own, as `python -m bot serve` does (sandbox, SQLite file);
Slack's side is a stand-in process (see ack_latency.py). This process takes the database's write lock
(BEGIN IMMEDIATE) for --hold seconds and meanwhile times GET /healthz and signed `/sim list` and `/soracom help`
commands to their HTTP response (the ack), then two mutating commands: a direct change (`/sim activate` of one
SIM) and a bulk change that asks for confirmation first. What the user is told is printed as it arrives.
Baseline in the same run: the same requests with the database free.

    python bench/locked_db.py [--hold 6]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ack_latency import Load, free_port, start, wait_ready  # noqa: E402

BOUND = 0.2
READY_SIM = "440100000000006"  # the embedded emulator's seed: a SIM in `ready`
READS = (("/sim", "list"), ("/soracom", "help"))
CHANGES = (("/sim", f"activate {READY_SIM}"), ("/sim", "activate status:ready"))


def hold_lock(path: str, seconds: float, taken: threading.Event) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    taken.set()
    time.sleep(seconds)
    connection.rollback()
    connection.close()


async def acks(bot: Load, base: str) -> list[tuple[str, float, int]]:
    """Each read once: (what, seconds to the response, status)."""
    timed = []
    async with httpx.AsyncClient() as http:
        started = time.perf_counter()
        health = await http.get(f"{base}/healthz")
        timed.append(("GET /healthz", time.perf_counter() - started, health.status_code))
    for command, text in READS:
        seconds, status = await bot.one(command, text)
        timed.append((f"{command} {text}", seconds, status))
    return timed


async def told(slack_url: str, after: int, timeout: float) -> list[tuple[float, str]]:
    """Private texts Slack's side receives within `timeout` seconds, beyond the first `after` of them."""
    seen: list[tuple[float, str]] = []
    started = time.perf_counter()
    async with httpx.AsyncClient() as http:
        while time.perf_counter() - started < timeout:
            texts = (await http.get(f"{slack_url}/count")).json()["texts"]
            for text in texts[after + len(seen):]:
                seen.append((time.perf_counter() - started, text))
            await asyncio.sleep(0.05)
    return seen


async def main(hold: float) -> int:
    slack_port, bot_port = free_port(), free_port()
    slack_url, base = f"http://127.0.0.1:{slack_port}", f"http://127.0.0.1:{bot_port}"
    with tempfile.TemporaryDirectory() as tmp:
        processes = [start("slack", str(slack_port)), start("bot", str(bot_port), slack_url, tmp)]
        try:
            await wait_ready(f"{slack_url}/count", processes[0])
            await wait_ready(f"{base}/healthz", processes[1])
            return await measure(Load(base, slack_url), base, slack_url, f"{tmp}/bot.db", hold)
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


async def measure(bot: Load, base: str, slack_url: str, db_path: str, hold: float) -> int:
    await acks(bot, base)  # warmed up: auth.test, the first SORACOM token, the database's first connections
    free = await acks(bot, base)
    await asyncio.sleep(1)
    taken = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(db_path, hold, taken))
    holder.start()
    taken.wait(10)
    locked_at = time.perf_counter()
    locked = await acks(bot, base)
    async with httpx.AsyncClient() as http:
        before = len((await http.get(f"{slack_url}/count")).json()["texts"])
    changes = [(f"{command} {text}", *await bot.one(command, text)) for command, text in CHANGES]
    still_locked = time.perf_counter() - locked_at < hold
    replies = await told(slack_url, before, hold + 5)
    holder.join()
    print(f"another connection holds the SQLite write lock (BEGIN IMMEDIATE) for {hold:.0f} s; the bot served by "
          f"uvicorn in its own process")
    print(f"  {'request':<34} {'free':>9} {'locked':>9}   (target while locked <= {BOUND * 1000:.0f} ms)")
    for (name, free_s, _), (_, locked_s, status) in zip(free, locked):
        print(f"  {name:<34} {free_s * 1000:6.1f} ms {locked_s * 1000:6.1f} ms   HTTP {status}")
    for name, seconds, status in changes:
        print(f"  {name:<34} {'':>9} {seconds * 1000:6.1f} ms   HTTP {status} (mutating)")
    print(f"  all of these answered while the lock was still held: {still_locked}")
    print("  what Slack was sent (privately or in the channel; seconds after the mutating commands were acked):")
    for seconds, text in replies:
        print(f"    +{seconds:4.1f} s  {text[:150]}")
    worst = max(seconds for _, seconds, _ in [*locked, *changes])
    ok = worst <= BOUND and still_locked and all(status == 200 for _, _, status in [*locked, *changes])
    print(f"  slowest ack while locked: {worst * 1000:.1f} ms   {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hold", type=float, default=6.0, help="seconds the other connection holds the lock")
    sys.exit(asyncio.run(main(parser.parse_args().hold)))
