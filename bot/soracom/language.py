"""The language SORACOM writes its error messages in (`X-Soracom-Lang`), chosen per request of the bot.

The client's own `lang` is the default; a context that names a reader's language (a Japanese user's command)
asks SORACOM for error text in that language, so the text SORACOM returns reads like the reply around it.
A context variable: concurrent requests never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANG_HEADER = "X-Soracom-Lang"
SORACOM_LANGUAGES = ("en", "ja")  # the languages SORACOM writes error messages in
_reader: ContextVar[str | None] = ContextVar("soracom_error_language", default=None)


def error_language() -> str | None:
    """The language the current context asks SORACOM's errors in; None: the client's default."""
    return _reader.get()


def set_error_language(lang: str | None) -> None:
    """For the rest of the current request (the task running it and the tasks it starts)."""
    _reader.set(lang if lang in SORACOM_LANGUAGES else None)


@contextmanager
def errors_in(lang: str | None) -> Iterator[None]:
    token = _reader.set(lang if lang in SORACOM_LANGUAGES else None)
    try:
        yield
    finally:
        _reader.reset(token)
