"""Handlers of the emulated operations, one module per subject; importing the package registers them all."""

from bot.emulator.api import (  # noqa: F401
    accounts,
    billing,
    devices,
    event_handlers,
    groups,
    operator,
    orders,
    port_mappings,
    sandbox,
    stats,
    subscribers,
)
