"""One catalogue of user-facing text, keyed by message id, per language.

Each subject keeps its text in `bot/messages/<lang>/<subject>.py` as a `MESSAGES` dict: English (`en`), the
reference, and Japanese (`ja`). Each reply is in the language of the Slack user it answers: handlers set it per
request with `set_language` (a context variable, so concurrent requests never see each other's), BOT_LANG where
the user's is unknown. Work outside a request names its language with `in_language` (the monthly summary: BOT_LANG);
without one it is English.

A text that shows a count may have plural forms, `Plural(one=…, other=…)`: the form is chosen by the number
filled into its `count` placeholder (or the one named by `by`) with Babel's plural rules of the language. A
language without plural forms (Japanese) keeps a plain text there.

Templates are Slack mrkdwn. Every value filled into a placeholder is data (SIM names, tags, SORACOM error texts,
what a user typed) and is escaped here, the one place all of them pass, unless it is `Mrkdwn` already: the result
of another `t()` or markup a view built around escaped data. So a value is escaped exactly once, and a name such
as `<!channel>` shows as text instead of notifying a channel.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from functools import cache

from babel import Locale

DEFAULT_LANG = "en"
LANGUAGES = ("en", "ja")
_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANG)

PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})  # CLDR's


class Plural:
    """Forms of one text by CLDR plural category; `other` is required, the others as the language has them."""

    __slots__ = ("by", "forms")

    def __init__(self, *, by: str = "count", other: str, **forms: str) -> None:
        unknown = forms.keys() - PLURAL_CATEGORIES
        if unknown:
            raise ValueError(f"not CLDR plural categories: {sorted(unknown)}")
        self.by, self.forms = by, {**forms, "other": other}

    def text(self, lang: str, values: dict[str, object]) -> str:
        count = values.get(self.by)
        if not isinstance(count, (int, float, Decimal)):
            raise TypeError(f"a plural text needs a number for {{{self.by}}}, got {count!r}")
        magnitude = -count if count < 0 else count  # abs() of this union loses its type in mypy
        return self.forms.get(babel_locale(lang).plural_form(magnitude), self.forms["other"])


Entry = str | Plural


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


def _known(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    return lang


def current_language() -> str:
    return _language.get()


def set_language(lang: str) -> None:
    """The language of the replies of the current request: the task running it and the tasks it starts."""
    _language.set(_known(lang))


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """The language of what is written inside the block, for work outside a request (scheduled posts)."""
    token = _language.set(_known(lang))
    try:
        yield
    finally:
        _language.reset(token)


def language_of_locale(locale: str | None, default: str) -> str:
    """The catalogue language of a Slack locale (`ja-JP` → `ja`); `default` when there is none for it."""
    lang = (locale or "").replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else default


@cache
def babel_locale(lang: str) -> Locale:
    return Locale.parse(lang)


@cache
def catalogue(lang: str = DEFAULT_LANG) -> dict[str, Entry]:
    package = importlib.import_module(f"bot.messages.{lang}")
    merged: dict[str, Entry] = {}
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        clash = merged.keys() & module.MESSAGES.keys()
        if clash:
            raise RuntimeError(f"message ids defined twice: {sorted(clash)}")
        merged.update(module.MESSAGES)
    return merged


def t(message_id: str, lang: str | None = None, /, **values: object) -> Mrkdwn:
    """The mrkdwn of a message id in the request's language with its {placeholders} filled in, each value escaped
    once; English where a translation lacks it."""
    lang = lang or _language.get()
    entry = catalogue(lang).get(message_id)
    if entry is None:
        lang, entry = DEFAULT_LANG, catalogue(DEFAULT_LANG)[message_id]
    text = entry.text(lang, values) if isinstance(entry, Plural) else entry
    return Mrkdwn(text.format(**{name: _filled(value) for name, value in values.items()}))


def term(kind: str, value: str | None) -> str:
    """A word of SORACOM's vocabulary (a SIM status, a payment status) in the request's language: the catalogue's
    `<kind>.<value>`, or the value itself, as SORACOM wrote it, when the catalogue does not know it."""
    if not value:
        return "—"
    message_id = f"{kind}.{value}"
    return t(message_id) if message_id in catalogue(DEFAULT_LANG) else value
