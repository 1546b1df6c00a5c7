"""Slack listeners, one module per subject; each module with `register(app, rt)` is registered."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.runtime import Runtime


def subject_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if not m.ispkg and m.name not in {"common"}
    )


def register_all(app: "AsyncApp", rt: "Runtime") -> None:
    for name in subject_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app, rt)
