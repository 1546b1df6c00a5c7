"""Handlers of the emulated operations, one module per subject; importing the package registers them all."""

from bot.emulator.api import accounts, billing, groups, operator, orders, sandbox, stats, subscribers  # noqa: F401
