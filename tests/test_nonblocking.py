"""The event loop that acks Slack never waits: not on a locked database, not on the console's prompt."""

from __future__ import annotations

import asyncio
import io
import threading

import httpx

from bot.config import Settings
from bot.local import LocalBot
from bot.localslack.console import Console


async def test_console_waiting_at_its_prompt_leaves_the_bots_pages_served(settings: Settings) -> None:
    typed = threading.Event()

    def type_later(prompt: str) -> str:
        typed.wait(10)
        return ":quit"

    async with LocalBot(settings, serve_http=True) as local:
        assert local.sender is not None
        console = Console(local.sender, local.fake, local.settle, out=io.StringIO(), input_func=type_later)
        prompt = asyncio.create_task(console.run_interactive())
        try:
            async with httpx.AsyncClient() as http:
                health = await asyncio.wait_for(http.get(f"{local.rt.settings.public_url}/healthz"), 5)
            assert health.status_code == 200
            assert not prompt.done() and not typed.is_set()  # answered while the console still waited for a line
        finally:
            typed.set()
            await prompt
