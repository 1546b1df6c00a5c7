"""One catalogue of user-facing text, keyed by message id, per language.

Each subject keeps its text in `bot/messages/<lang>/<subject>.py` as a `MESSAGES` dict: English (`en`), the
reference, and Japanese (`ja`). The bot serves one workspace, so one language (BOT_LANG) holds for every reply.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

DEFAULT_LANG = "en"
LANGUAGES = ("en", "ja")
_current = DEFAULT_LANG


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


def t(message_id: str, lang: str | None = None, /, **values: object) -> str:
    """The text of a message id with its {placeholders} filled in; English where a translation lacks it."""
    text = catalogue(lang or _current).get(message_id) or catalogue(DEFAULT_LANG)[message_id]
    return text.format(**values)
