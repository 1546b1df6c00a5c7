"""One catalogue of user-facing text, keyed by message id, per language.

Each subject keeps its English text in `bot/messages/en/<subject>.py` as a `MESSAGES` dict; a Japanese
catalogue can follow as `bot/messages/ja/` without touching handler logic.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

DEFAULT_LANG = "en"


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


def t(message_id: str, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """The text of a message id with its {placeholders} filled in."""
    text = catalogue(lang).get(message_id) or catalogue(DEFAULT_LANG)[message_id]
    return text.format(**values) if values else text
