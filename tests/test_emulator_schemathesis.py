"""Property-based run of schemathesis over every operation the emulator serves, against the official spec with the
emulator's listed deviations written in (bot/emulator/deviations.py).

Positive cases (requests the spec allows) must get no 5xx, a documented content type and status, and a body of the
documented schema; negative cases (requests the spec forbids) must be refused with 4xx. The budget is a few dozen
examples an operation, on a fresh seeded emulator for each operation, so that it fits CI.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.emulator import (
    DEMO_OPERATOR_ID,
    FIELD_GROUP_ID,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    Identity,
    create_app,
)
from bot.emulator import specgen
from bot.emulator.deviations import OFF_SPEC_OPERATIONS, apply_to_spec
from bot.emulator.operations import OPERATIONS_BY_ID
from tests.conftest import SHARED
from tests.clock import Clock

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
SERVED = sorted(set(OPERATIONS_BY_ID) - OFF_SPEC_OPERATIONS)
SAM_USER = "schemathesis"
POSITIVE_CHECKS = [not_a_server_error, content_type_conformance, status_code_conformance,
                   response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def operations() -> dict[str, Any]:
    """operationId → schemathesis APIOperation, for the operations of both official specs the emulator serves."""
    spec_dir = SHARED / "soracom-openapi"
    if not spec_dir.is_dir():
        pytest.skip(f"../shared is absent ({spec_dir}); it holds the official specs")
    found: dict[str, Any] = {}
    for spec in specgen.load(spec_dir):
        patched = apply_to_spec(spec)
        patched["servers"] = [{"url": "http://emulator/v1"}]
        schema = schemathesis.openapi.from_dict(patched)
        for result in schema.get_all_operations():
            operation = result.ok()
            operation_id = operation.definition.raw.get("operationId")
            if operation_id in OPERATIONS_BY_ID:
                found[operation_id] = operation
    return found


def known_values(state: EmulatorState) -> dict[str, list[str]]:
    """Path parameter values naming seeded records, so that cases reach past the 404 of a random ID."""
    return {"operator_id": [DEMO_OPERATOR_ID], "imsi": sorted(state.subscribers),
            "group_id": [SEED_GROUP_ID, FIELD_GROUP_ID], "yyyyMM": sorted(state.bills),
            "user_name": [SAM_USER], "shipping_address_id": [SEED_SHIPPING_ADDRESS_ID]}


def name_known_records(case: Any, known: dict[str, list[str]], seeded: bool, pick: int) -> None:
    """The caller's own operator ID always (another one is a plain 403); seeded records in about half the cases."""
    path = case.path_parameters or {}
    for name, values in known.items():
        if name in path and (seeded or name == "operator_id"):
            path[name] = values[pick % len(values)]


def negative_in(case: Any, location: str) -> bool:
    components = case.meta.components if case.meta is not None else {}
    return any(where.name.lower() == location and info.mode.is_negative for where, info in components.items())


def run_cases(operation: Any, mode: GenerationMode, examples: int, checks: list[Any]) -> None:
    state = EmulatorState(now=Clock())
    state.add_user(SAM_USER, permission='{"statements":[{"effect":"allow","api":"*"}]}')
    app = create_app(state)
    known = known_values(state)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode), seeded=st.booleans(), pick=st.integers(0, 99))
    def run(case: Any, seeded: bool, pick: int) -> None:
        if mode is GenerationMode.POSITIVE:
            name_known_records(case, known, seeded, pick)
        session = state.open_session(Identity(DEMO_OPERATOR_ID), 3600)  # a case may log out or revoke its own
        headers = {"X-Soracom-API-Key": session.api_key, "X-Soracom-Token": session.token}
        generated = case.headers or {}
        if negative_in(case, "header"):  # a credential left out or mangled on purpose stays so
            headers = {}
        case.headers = {**generated, **headers}
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=checks, headers=headers)

    run()


@pytest.mark.parametrize("operation_id", SERVED)
def test_emulator_follows_the_spec_and_never_fails(operations: dict[str, Any], operation_id: str) -> None:
    assert operation_id in operations, f"{operation_id} is served but not in the official specs: list it as a deviation"
    run_cases(operations[operation_id], GenerationMode.POSITIVE, POSITIVE_EXAMPLES, POSITIVE_CHECKS)
    run_cases(operations[operation_id], GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, NEGATIVE_CHECKS)
