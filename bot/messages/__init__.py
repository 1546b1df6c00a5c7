"""One catalogue of user-facing text, keyed by message id, per language.

Each subject keeps its text in `bot/messages/<lang>/<subject>.py` as a `MESSAGES` dict: English (`en`), the
reference, and Japanese (`ja`). The bot serves one workspace, so one language (BOT_LANG) holds for every reply.

Templates are Slack mrkdwn. Every value filled into a placeholder is data (SIM names, tags, SORACOM error texts,
what a user typed) and is escaped here, the one place all of them pass, unless it is `Mrkdwn` already: the result
of another `t()` or markup a view built around escaped data. So a value is escaped exactly once, and a name such
as `<!channel>` shows as text instead of notifying a channel.
"""

from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal
from functools import cache

DEFAULT_LANG = "en"
LANGUAGES = ("en", "ja")
_current = DEFAULT_LANG


class Mrkdwn(str):
    """Text that is safe as Slack mrkdwn: the bot's own markup around escaped data. Never escaped again."""

    __slots__ = ()


MRKDWN_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def escape(value: object) -> Mrkdwn:
    """Data as inert mrkdwn text: Slack reads only &, < and > as markup (mentions, links, entities)."""
    if isinstance(value, Mrkdwn):
        return value
    text = str(value)
    for char, entity in MRKDWN_ESCAPES:
        text = text.replace(char, entity)
    return Mrkdwn(text)


def unescape(text: str) -> str:
    """Back to what a person reads: for plain_text fields, where Slack shows entities as typed."""
    for char, entity in reversed(MRKDWN_ESCAPES):
        text = text.replace(entity, char)
    return text


def _filled(value: object) -> object:
    # Numbers stay numbers so that format specs such as {qty:,} still apply; they hold no markup.
    if isinstance(value, (int, float, Decimal)):
        return value
    return escape(value)


def use_language(lang: str) -> None:
    """The language of every reply from now on."""
    global _current
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    _current = lang


@cache
def catalogue(lang: str = DEFAULT_LANG) -> dict[str, str]:
    package = importlib.import_module(f"bot.messages.{lang}")
    merged: dict[str, str] = {}
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        clash = merged.keys() & module.MESSAGES.keys()
        if clash:
            raise RuntimeError(f"message ids defined twice: {sorted(clash)}")
        merged.update(module.MESSAGES)
    return merged


def t(message_id: str, lang: str | None = None, /, **values: object) -> Mrkdwn:
    """The mrkdwn of a message id with its {placeholders} filled in, each value escaped once; English where a
    translation lacks it."""
    text = catalogue(lang or _current).get(message_id) or catalogue(DEFAULT_LANG)[message_id]
    return Mrkdwn(text.format(**{name: _filled(value) for name, value in values.items()}))
