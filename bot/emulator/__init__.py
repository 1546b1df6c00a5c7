"""The embedded SORACOM API emulator: an ASGI app that follows the official spec, with seeded demo data and fault knobs.

Data is kept per operator (the demo operator holds the seed; a sandbox/init operator starts empty); requests are
checked against rules derived from the spec (spec_rules.py); where it differs from the spec: deviations.py.

    state = EmulatorState()           # seeded; EmulatorState(now=callable) to drive the clock
    app = create_app(state)           # httpx.ASGITransport(app=app), or serve_emulator() under uvicorn
    state.faults.fail_next("GET", r"/subscribers$", status=503)
"""

from bot.emulator.app import create_app, serve_emulator
from bot.emulator.faults import Faults, RateLimit, ScriptedFailure
from bot.emulator.seed import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    DEMO_EMAIL,
    DEMO_OPERATOR_ID,
    DEMO_PASSWORD,
    FIELD_GROUP_ID,
    MODEM_PRODUCT_CODE,
    PLAN_KM1_PRODUCT_CODE,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
)
from bot.emulator.state import EmulatorState, Identity, RecordedRequest

__all__ = [
    "DEMO_AUTH_KEY", "DEMO_AUTH_KEY_ID", "DEMO_EMAIL", "DEMO_OPERATOR_ID", "DEMO_PASSWORD", "FIELD_GROUP_ID",
    "MODEM_PRODUCT_CODE", "PLAN_KM1_PRODUCT_CODE", "SEED_GROUP_ID", "SEED_SHIPPING_ADDRESS_ID",
    "EmulatorState", "Faults", "Identity", "RateLimit", "RecordedRequest", "ScriptedFailure", "create_app",
    "serve_emulator",
]
