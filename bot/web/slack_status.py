"""Whether Slack takes the bot's token: `auth.test` at start, again with backoff while Slack is unreachable, and now
and then after; `/healthz` reports the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CHECKING, OK, UNREACHABLE, REJECTED = "checking", "ok", "unreachable", "token rejected"
# Slack's answers that mean the token itself is refused: retrying cannot help, a new token must be set.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                          "not_allowed_token_type", "team_disabled", "invalid_token"})
FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, RECHECK_SECONDS = 1.0, 60.0, 300.0


class SlackStatus:
    def __init__(self, client: AsyncWebClient, *, first_retry: float = FIRST_RETRY_SECONDS,
                 max_retry: float = MAX_RETRY_SECONDS, recheck: float = RECHECK_SECONDS) -> None:
        self.client = client
        self.state = CHECKING
        self.error = ""
        self._first_retry, self._max_retry, self._recheck = first_retry, max_retry, recheck
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> str:
        try:
            answer = await self.client.auth_test()
        except SlackApiError as exc:
            self.error = str(exc.response.get("error") or "")
            self.state = REJECTED if self.error in TOKEN_ERRORS else UNREACHABLE
        except Exception as exc:  # noqa: BLE001 - any transport failure (refused, DNS, timeout, TLS) is "unreachable"
            self.error, self.state = type(exc).__name__, UNREACHABLE
        else:
            if self.state != OK:
                log.info("Slack takes the bot token: workspace %s, bot user %s", answer.get("team"),
                         answer.get("user_id"))
            self.error, self.state = "", OK
        return self.state

    async def _watch(self) -> None:
        delay = self._first_retry
        while True:
            state = await self.check()
            if state == REJECTED:
                log.error("Slack rejected SLACK_BOT_TOKEN (%s): nothing can be posted. Copy the Bot User OAuth Token "
                          "(xoxb-…) of the installed app into SLACK_BOT_TOKEN and restart.", self.error)
                return  # a refused token does not heal by itself; /healthz keeps saying so
            if state == UNREACHABLE:
                log.warning("Slack is unreachable (%s); auth.test again in %.0f s", self.error, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret
                delay = min(delay * 2, self._max_retry)
            else:
                delay = self._first_retry
                await asyncio.sleep(self._recheck)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="slack-auth-test")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def health(self) -> tuple[dict[str, Any], bool]:
        """The `slack` part of /healthz, and whether the bot can work: unreachable is a Slack outage (restarting
        the bot would not help, so it stays 200); a rejected token needs someone to act."""
        return {"slack": self.state}, self.state != REJECTED


App = TypeVar("App")


def checking_slack(status: SlackStatus | None, lifespan: Callable[[App], AbstractAsyncContextManager[None]]
                   ) -> Callable[[App], AbstractAsyncContextManager[None]]:
    """A server's lifespan that also watches Slack (auth.test) while it serves."""
    if status is None:
        return lifespan

    @contextlib.asynccontextmanager
    async def watching(app: App) -> AsyncIterator[None]:
        status.start()
        try:
            async with lifespan(app):
                yield
        finally:
            await status.stop()

    return watching
