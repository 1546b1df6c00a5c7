"""Bulk activation through the service against the embedded emulator with a latency knob: bounded concurrency
against a sequential baseline measured in the same run.

    python bench/bulk.py [--sims 200] [--latency 0.02] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, EmulatorState, create_app  # noqa: E402
from bot.services import sims  # noqa: E402
from bot.services.bulk import BulkResult, run_bulk  # noqa: E402
from bot.soracom import AuthKeyCredentials, SoracomClient  # noqa: E402

ENDPOINT = "http://soracom-emulator.localhost"
ACTIVATE = sims.Change(sims.Action.activate)


async def activate_all(client: SoracomClient, state: EmulatorState, imsis: list[str],
                       concurrency: int) -> tuple[BulkResult, int]:
    """One timed run from `ready`; returns the result and the peak concurrency the emulator saw."""
    for imsi in imsis:
        state.subscribers[imsi]["status"] = "ready"
    state.peak_concurrency = 0
    result = await run_bulk(imsis, lambda imsi: sims.apply(client, ACTIVATE, imsi), concurrency=concurrency,
                            describe=sims.failure_reason)
    assert not result.failures, result.failures[:3]
    assert all(state.subscribers[imsi]["status"] == "active" for imsi in imsis)
    return result, state.peak_concurrency


async def main(count: int, latency: float, concurrency: int) -> None:
    state = EmulatorState()
    imsis = [sub["imsi"] for sub in state.add_subscribers(count, status="ready")]
    transport = httpx.ASGITransport(app=create_app(state))
    async with SoracomClient(ENDPOINT, AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                             transport=transport) as client:
        await client.auth()  # authentication is not part of either figure
        state.faults.latency = latency
        sequential, sequential_peak = await activate_all(client, state, imsis, 1)
        bounded, bounded_peak = await activate_all(client, state, imsis, concurrency)
    print(f"bulk activate of {count} SIMs, emulator latency {latency * 1000:.0f} ms per call")
    print(f"  sequential (concurrency 1): {sequential.seconds:6.2f} s, "
          f"{count / sequential.seconds:7.1f} SIMs/s, peak concurrency at the emulator {sequential_peak}")
    print(f"  bounded (concurrency {concurrency}):    {bounded.seconds:6.2f} s, "
          f"{count / bounded.seconds:7.1f} SIMs/s, peak concurrency at the emulator {bounded_peak}")
    print(f"  speed-up: {sequential.seconds / bounded.seconds:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator waits per call")
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    asyncio.run(main(options.sims, options.latency, options.concurrency))
