"""The language of what the bot writes and of what it asks SORACOM to write (its error texts), set together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.messages import in_language, set_language
from bot.soracom.language import errors_in, set_error_language


def speak(lang: str) -> None:
    """The rest of the current request is written in `lang`, SORACOM's error texts included."""
    set_language(lang)
    set_error_language(lang)


@contextmanager
def writing_in(lang: str) -> Iterator[None]:
    """What is written inside the block (a channel's post, scheduled work) is in `lang`."""
    with in_language(lang), errors_in(lang):
        yield
