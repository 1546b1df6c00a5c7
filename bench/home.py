"""The Home tab at a large fleet: opening it (a signed app_home_opened event until the view is published) against
the least work that can show a Home (one bare views.publish to the same Slack stand-in), in the same run.

The Home reads the fleet snapshot in the database, so opening it costs no SORACOM call while the snapshot is fresh;
the snapshot's refresh (paging SORACOM at a bounded rate) is measured apart.

    python bench/home.py [--sims 10000] [--latency 0.05] [--opens 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.emulator import EmulatorState  # noqa: E402
from bot.local import LOCAL_BOT_TOKEN, LocalBot  # noqa: E402
from bot.services import fleet  # noqa: E402

BARE_VIEW = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def main(count: int, latency: float, opens: int) -> None:
    state = EmulatorState()
    state.add_subscribers(count - len(state.subscribers))
    state.faults.latency = latency
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS="U_OP")
        async with LocalBot(settings, emulator=state) as local:
            assert local.rt is not None and local.sender is not None
            rt = local.rt
            start = time.perf_counter()
            await fleet.refresh(rt.db, rt.soracom, owner="bench", clock=rt.clock, zone=rt.settings.timezone)
            refresh_s = time.perf_counter() - start
            refresh_calls = len(state.requests)

            bare_client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=local.fake.api_url)
            bare = []
            for _ in range(opens):
                start = time.perf_counter()
                await bare_client.views_publish(user_id="U_BARE", view=BARE_VIEW)
                bare.append(time.perf_counter() - start)

            calls_before = len(state.requests)
            home = []
            for _ in range(opens):
                start = time.perf_counter()
                await local.sender.event({"type": "app_home_opened", "user": "U_OP", "tab": "home"})
                await local.settle()
                home.append(time.perf_counter() - start)
            calls = len(state.requests) - calls_before
            shown = local.fake.homes["U_OP"]

    print(f"{count} SIMs, emulator latency {latency * 1000:.0f} ms a call, {opens} opens")
    print(f"  snapshot refresh (background): {refresh_s:6.2f} s  ({refresh_calls} SORACOM calls)")
    print(f"  baseline: bare views.publish       {summary(bare)}")
    print(f"  bot: app_home_opened → published   {summary(home)}   ({calls} SORACOM calls)")
    print(f"  ratio (bot / baseline, median): {statistics.median(home) / statistics.median(bare):.1f}")
    print(f"  blocks in the Home view: {len(shown['blocks'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--opens", type=int, default=20)
    options = parser.parse_args()
    asyncio.run(main(options.sims, options.latency, options.opens))
