"""How fast does the bot answer Slack, whatever SORACOM's latency?

Slack gives a slash command 3 seconds. The bot acks first and works after, so the time to the HTTP answer should
not grow with SORACOM's latency. Measured through signed requests into the real bolt app, with the emulator made
slow (--latency, default 0.5 s a call), against a baseline in the same run: a bare bolt app that only acks.

    python bench/ack_latency.py [--n 30] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.localslack import SlackSender  # noqa: E402


async def timed(send, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = await send()
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:<28} median {statistics.median(times) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def baseline(local: LocalBot, n: int) -> list[float]:
    bare = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=local.fake.api_url),
                    signing_secret=local.signing_secret)

    @bare.command("/sim")
    async def only_ack(ack) -> None:  # type: ignore[no-untyped-def]
        await ack()

    handler = AsyncSlackRequestHandler(bare)

    async def events(request):  # type: ignore[no-untyped-def]
        return await handler.handle(request)

    web = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bare") as http:
        sender = SlackSender(local.signing_secret, http, fake=local.fake)
        return await timed(lambda: sender.command("/sim", "list", user_id="U_OP", channel_id="C1"), n)


async def main(n: int, latency: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS="U_OP")
        async with LocalBot(settings) as local:
            assert local.sender is not None and local.rt is not None
            local.rt.emulator.faults.latency = latency
            base = await baseline(local, n)
            acks = await timed(lambda: local.sender.command("/sim", "list", user_id="U_OP", channel_id="C1"), n)
            start = time.perf_counter()
            await local.settle()
            drained = time.perf_counter() - start
    print(f"SORACOM latency {latency * 1000:.0f} ms a call, {n} commands each")
    print(summary("bare bolt app (baseline)", base))
    print(summary("bot: /sim list, time to ack", acks))
    print(f"ratio of medians (bot / baseline): {statistics.median(acks) / statistics.median(base):.2f}")
    print(f"time for the bot to finish the work after the last ack: {drained:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.5)
    options = parser.parse_args()
    asyncio.run(main(options.n, options.latency))
