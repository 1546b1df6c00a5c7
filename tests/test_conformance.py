"""Every operation the client uses, as sent by the client and as answered by the emulator, against the official spec.

One scenario drives every in-spec operation of `bot.soracom.operations.OPERATIONS` through the client onto the
emulator, recording each request/response pair; each operation is then one test that validates its pairs with
openapi-core. The spec (../shared/soracom-openapi/soracom-api.en.yaml) is loaded once per session.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.emulator import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    DEMO_EMAIL,
    DEMO_OPERATOR_ID,
    DEMO_PASSWORD,
    PLAN_KM1_PRODUCT_CODE,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    create_app,
)
from bot.services import alerts
from bot.soracom import AuthKeyCredentials, SoracomClient
from bot.soracom.client import OPERATION_EXTENSION
from bot.soracom.models import PayerInformation
from bot.soracom.operations import OPERATIONS
from tests.openapi_spec import without_nulls
from tests.clock import Clock

ENDPOINT = "https://api.soracom.io"  # the spec's server; the ASGI transport keeps every call in-process


@dataclass
class Exchange:
    operation_id: str
    request: httpx.Request
    response: httpx.Response


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        recorded = httpx.Response(response.status_code, headers=response.headers, content=body, request=request)
        self.exchanges.append(Exchange(request.extensions[OPERATION_EXTENSION], request, recorded))
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)


class OpenAPIRequest:
    """An httpx request as openapi-core reads it."""

    def __init__(self, request: httpx.Request) -> None:
        from openapi_core.datatypes import RequestParameters

        self._request = request
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class OpenAPIResponse:
    """An httpx response as openapi-core reads it.

    JSON nulls count as absent fields: the real API answers `"imeiLock": null` and the like (see the seed
    transcript) where the spec's schemas are not nullable; names and types of present values are still checked.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
        data = response.content or None
        if data and self.content_type.startswith("application/json"):
            data = json.dumps(without_nulls(response.json())).encode()
        self.data = data


async def exercise(state: EmulatorState, client: SoracomClient) -> None:
    """Calls every in-spec operation the client offers, in an order the emulator can serve."""
    imsi, other = "440100000000005", "440100000000006"
    await client.auth()
    await client.generate_auth_token()
    # Subscribers
    await client.list_subscribers(status_filter="active|inactive", limit=10)
    await client.get_subscriber(imsi)
    await client.activate_subscriber(imsi)
    await client.deactivate_subscriber(imsi)
    await client.set_subscriber_to_standby(other)
    await client.suspend_subscriber(imsi)
    await client.disable_termination(imsi)
    await client.enable_termination(imsi)
    await client.set_group(imsi, SEED_GROUP_ID)
    await client.unset_group(imsi)
    await client.set_imei_lock(imsi, "350000000000001")
    await client.unset_imei_lock(imsi)
    await client.put_subscriber_tags(imsi, {"site": "tokyo"})
    await client.delete_subscriber_tag(imsi, "site")
    await client.update_speed_class(imsi, "s1.fast")
    await client.set_expiry_time(imsi, state.now_ms() + 86_400_000, "doNothing")
    now = int(state.now().timestamp())
    await client.get_air_stats("440100000000002", now - 7 * 86400, now, "day")
    # The device behind a SIM (sensor-03: online)
    online = "440100000000003"
    events = await client.list_session_events(online, limit=2)
    assert events.items and events.next_key
    sim_id = state.subscribers[online]["iccid"]
    await client.list_sim_status_history(sim_id, sort="desc", limit=5)
    located = await client.batch_get_cell_locations(
        [{"mcc": "440", "mnc": "10", "tac": "5840", "ecid": "44668480", "identifier": "gotanda"}])
    assert located and located[0].identifier == "gotanda"
    diagnostic = await client.send_diagnostic_request(sim_id)
    assert diagnostic.diagnosticId
    await client.get_diagnostic(diagnostic.diagnosticId)
    assert (await client.subscriber_downlink_ping_to_user_equipment(online, 2, 1)).success
    await client.send_sms(online, "conformance", 1)
    await client.delete_subscriber_session(online)
    await client.terminate_subscriber(imsi)
    # Groups
    group = await client.create_group({"name": "conformance"})
    assert group.groupId
    await client.list_groups(limit=10)
    await client.get_group(group.groupId)
    await client.put_configuration_parameters(group.groupId, "SoracomAir", {"binaryParserEnabled": False})
    await client.delete_configuration_parameter(group.groupId, "SoracomAir", "binaryParserEnabled")
    await client.put_group_tags(group.groupId, {"owner": "ops"})
    await client.list_subscribers_in_group(SEED_GROUP_ID, limit=10)
    await client.delete_group(group.groupId)
    # Event Handler: the rules /alerts setup makes
    for rule, limit in (("daily-traffic", 100), ("status-change", None), ("session-disconnect", None)):
        spec = alerts.AlertSpec(alerts.RULES[rule], limit, None, None)
        body = alerts.handler_request(spec, operator_id=DEMO_OPERATOR_ID, events_url="https://bot.example.test/x",
                                      token="secret")
        handler = await client.create_event_handler(body)
        assert handler.handlerId
        await client.update_event_handler(handler.handlerId, body)
    await client.list_event_handlers()
    await client.delete_event_handler(handler.handlerId)
    # Napter remote access: /sim remote
    mapping = await client.create_port_mapping("440100000000002", 22, duration_seconds=600,
                                               ip_ranges=["203.0.113.0/24"], tls_required=False)
    assert mapping.ipAddress and mapping.port
    await client.list_port_mappings()
    await client.list_port_mappings_for_subscriber("440100000000002")
    assert await client.delete_port_mapping(mapping.ipAddress, int(mapping.port))
    # Payer, shipping, orders
    await client.register_payer_information(PayerInformation(companyName="Example KK", fullName="Hanako Sato"))
    await client.get_payer_information()
    address = await client.create_shipping_address({
        "zipCode": "530-0001", "state": "大阪府", "city": "大阪市北区", "addressLine1": "梅田 1-1-1",
        "phoneNumber": "06-0000-0000"})
    assert address.shippingAddressId
    await client.list_shipping_addresses()
    await client.get_shipping_address(address.shippingAddressId)
    await client.delete_shipping_address(address.shippingAddressId)
    await client.list_products()
    quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 2}, SEED_SHIPPING_ADDRESS_ID)
    assert quotation.orderId
    await client.confirm_order(quotation.orderId)
    await client.list_orders()
    await client.get_order(quotation.orderId)
    await client.cancel_order(quotation.orderId)
    # Billing
    await client.get_billing_history()
    await client.get_latest_billing()
    await client.get_billing("201908")
    await client.get_billing_per_day("201908")
    await client.export_billing("201908")
    await client.export_billing("201908", export_mode="async")
    await client.get_billing_summary_of_bill_items()
    await client.get_billing_summary_of_sims()
    # SAM users
    await client.create_user("conformance-bot", description="conformance")
    await client.update_user_permission("conformance-bot", {"statements": [{"effect": "allow", "api": ["*"]}]})
    await client.generate_user_auth_key("conformance-bot")
    # MFA
    enabled = await client.enable_mfa()
    assert enabled.totpUri
    await client.verify_mfa(pyotp.TOTP(state.operator_mfa[DEMO_OPERATOR_ID]["secret"]).at(state.now()))
    await client.get_mfa_status()
    await client.revoke_mfa(DEMO_PASSWORD)
    # Password reset, then the end of the session
    await client.issue_password_reset_token(DEMO_EMAIL)
    await client.verify_password_reset_token(state.password_reset_tokens[DEMO_EMAIL], "a-new-password-123")
    await client.logout()


@dataclass
class Scenario:
    exchanges: dict[str, list[Exchange]]
    stopped_by: BaseException | None  # the error that ended the scenario early, if one did


@pytest.fixture(scope="session")
def scenario(openapi: Any) -> Scenario:
    """Every request/response pair of one full run, by operationId; a failing step ends the run, not the tests."""
    state = EmulatorState(now=Clock())
    recorder = Recorder(httpx.ASGITransport(app=create_app(state)))

    async def run() -> None:
        async def no_wait(seconds: float) -> None:
            return None

        async with SoracomClient(ENDPOINT, AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                                 transport=recorder, sleep=no_wait) as client:
            await exercise(state, client)

    stopped_by = None
    try:
        asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - reported by every test of an operation the run did not reach
        stopped_by = exc
    by_operation: dict[str, list[Exchange]] = {}
    for exchange in recorder.exchanges:
        by_operation.setdefault(exchange.operation_id, []).append(exchange)
    return Scenario(by_operation, stopped_by)


# Known differences between the emulator and the spec, reported to the emulator's owner; strict, so a fix shows.
EMULATOR_GAPS: dict[str, str] = {}


def _operation_params() -> list[Any]:
    params = []
    for op in OPERATIONS.values():
        marks: Any = ()
        if not op.in_spec:
            marks = pytest.mark.skip(
                reason=f"{op.operation_id} is not in the current public spec (shape from the seed transcript)")
        elif op.operation_id in EMULATOR_GAPS:
            marks = pytest.mark.xfail(strict=True, reason=EMULATOR_GAPS[op.operation_id])
        params.append(pytest.param(op.operation_id, marks=marks, id=op.operation_id))
    return params


def documented_statuses(raw_spec: dict[str, Any], operation_id: str) -> set[str]:
    op = OPERATIONS[operation_id]
    return set(raw_spec["paths"][op.path][op.method.lower()]["responses"])


@pytest.mark.parametrize("operation_id", _operation_params())
def test_operation_conforms_to_the_spec(operation_id: str, openapi: Any, raw_spec: dict[str, Any],
                                       scenario: Scenario):
    sent = scenario.exchanges.get(operation_id)
    assert sent, f"the scenario never called {operation_id}; it stopped on: {scenario.stopped_by!r}"
    problems = []
    for exchange in sent:
        request, response = OpenAPIRequest(exchange.request), exchange.response
        label = f"{exchange.request.method} {exchange.request.url.path} -> {response.status_code}"
        if response.status_code >= 400:
            problems.append(f"{label}: the emulator refused it: {response.text[:200]}")
            continue
        problems += [f"{label}: request invalid: {p}" for p in validation_problems(openapi.validate_request, request)]
        if response.status_code == 204 and not response.content:
            # HTTP forbids a body on 204, whatever content the spec lists (cancelOrder lists a string).
            if "204" not in documented_statuses(raw_spec, operation_id):
                problems.append(f"{label}: 204 is not a documented answer")
            continue
        problems += [f"{label}: response invalid: {p}"
                     for p in validation_problems(openapi.validate_response, request, OpenAPIResponse(response))]
    assert not problems, "\n".join(problems)


def validation_problems(validate: Any, *args: Any) -> list[str]:
    """openapi-core's complaints, down to each schema error (path in the document and message)."""
    try:
        validate(*args)
    except Exception as exc:  # noqa: BLE001 - every kind of validation failure is reported, with its causes
        cause = exc.__cause__
        errors = getattr(cause, "schema_errors", None) or ()
        details = [f"{'/'.join(map(str, e.path))}: {e.message[:160]}" for e in errors][:8]
        return [f"{type(exc).__name__}: {cause or exc}"[:300] + ("; " + " | ".join(details) if details else "")]
    return []


def test_operations_table_matches_the_spec(raw_spec: dict[str, Any]):
    """Method, path, service (first tag) and SAM name of every in-spec operation are the spec's."""
    found = {}
    for path, item in raw_spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op["tags"][0], op.get("x-sam-operationId"))
    for op in OPERATIONS.values():
        if not op.in_spec:
            assert op.operation_id not in found
            continue
        method, path, service, sam_name = found[op.operation_id]
        assert (op.method, op.path, op.service, op.sam_name) == (method, path, service, sam_name), op.operation_id
