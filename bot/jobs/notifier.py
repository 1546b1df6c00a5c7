"""The engine's one way to people: a port the chat side implements (handlers.jobs.SlackNotifier) and the wiring
hands to the sweeper. Each method reports its own failures (logged); none raises for a message that did not go."""

from __future__ import annotations

from typing import Protocol

from bot.jobs.context import JobContext
from bot.jobs.engine import Outcome
from bot.jobs.rows import Pending


class Notifier(Protocol):
    async def language(self, user_id: str) -> str:
        """The language `user_id` reads (the bot's default when the chat does not say)."""
        ...

    async def tell(self, user_id: str, channel_id: str | None, text: str) -> None:
        """`text`, privately to `user_id`, in `channel_id` (or directly when there is none)."""
        ...

    async def job_resumed(self, context: JobContext, job: Pending, outcome: Outcome) -> None:
        """How a job taken over ended, to its owner: nobody waits on the request that started it any more."""
        ...
