"""The SORACOM client under failure: retries, backoff, rate limits, token expiry and refresh, pagination, errors.

The first half drives the client over httpx.MockTransport with a scripted fake API (exact control of each
answer); the second half over the embedded emulator and its fault knobs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.emulator import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    PLAN_KM1_PRODUCT_CODE,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    create_app,
)
from bot.soracom import (
    AuthFailed,
    AuthKeyCredentials,
    NotFound,
    PermissionDenied,
    RateLimited,
    SamCredentials,
    SoracomClient,
    SoracomError,
    SoracomUnavailable,
)
from bot.soracom.client import MAX_RATE_LIMIT_WAIT, RATE_LIMIT_HEADER
from tests.clock import Clock as PinnedClock

KEY_ID, KEY_SECRET = "keyId-test", "secret-very-private"
OPERATOR = "OP0000000001"
IMSI = "440100000000001"
SUBSCRIBER = {"imsi": IMSI, "status": "active", "speedClass": "s1.standard", "tags": {"name": "one"}}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeApi:
    """A scripted SORACOM: real-looking /auth and token refresh, queued answers per "METHOD /path", else 200."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.queued: dict[str, list[Answer]] = {}
        self.valid_tokens: set[str] = set()
        self.issued = 0
        self.default: dict[str, Any] = {}

    def queue(self, route: str, *answers: Answer) -> None:
        self.queued.setdefault(route, []).extend(answers)

    def sent(self, route: str) -> list[httpx.Request]:
        method, path = route.split(" ", 1)
        return [r for r in self.requests if r.method == method and r.url.path == "/v1" + path]

    def _token(self) -> str:
        self.issued += 1
        token = f"token-{self.issued}"
        self.valid_tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = f"{request.method} {request.url.path.removeprefix('/v1')}"
        answers = self.queued.get(route)
        if answers:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer(request) if callable(answer) else answer
        if route == "POST /auth":
            body = json.loads(request.content)
            if body.get("authKey") != KEY_SECRET and body.get("password") != KEY_SECRET:
                return httpx.Response(401, json={"code": "AUM0004", "message": "Authentication failed."})
            return httpx.Response(200, json={"apiKey": "api-key-1", "operatorId": OPERATOR, "token": self._token()})
        if request.headers.get("x-soracom-token") not in self.valid_tokens:
            return httpx.Response(401, json={"code": "AUM0003", "message": "The API token has expired."})
        if route == f"POST /operators/{OPERATOR}/token":
            return httpx.Response(200, json={"token": self._token()})
        return httpx.Response(200, json=self.default.get(route, SUBSCRIBER))


class Sleeps:
    """The injected sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(api: FakeApi, sleeps: Sleeps, clock: Clock | None = None, **options: Any) -> SoracomClient:
    return SoracomClient(
        endpoint="https://api.example.test",
        credentials=options.pop("credentials", AuthKeyCredentials(KEY_ID, KEY_SECRET)),
        transport=httpx.MockTransport(api),
        sleep=sleeps,
        clock=clock or Clock(),
        **options,
    )


def error(status: int, code: str = "COM0001", message: str = "failure", headers: dict[str, str] | None = None):
    return httpx.Response(status, json={"code": code, "message": message}, headers=headers)


# Requests as sent


async def test_first_call_authenticates_with_auth_key_and_sends_token_and_language(api, sleeps):
    async with make_client(api, sleeps, lang="ja", token_timeout_seconds=3600) as client:
        sub = await client.get_subscriber(IMSI)
    assert sub.imsi == IMSI and sub.tags == {"name": "one"}
    auth, get = api.requests
    assert auth.url == "https://api.example.test/v1/auth"
    assert json.loads(auth.content) == {"authKeyId": KEY_ID, "authKey": KEY_SECRET, "tokenTimeoutSeconds": 3600}
    assert "x-soracom-token" not in auth.headers
    assert get.url.path == f"/v1/subscribers/{IMSI}"
    assert get.headers["x-soracom-api-key"] == "api-key-1"
    assert get.headers["x-soracom-token"] == "token-1"
    assert get.headers["x-soracom-lang"] == "ja"


async def test_sam_user_credentials_are_sent_as_operator_user_and_password(api, sleeps):
    client = make_client(api, sleeps, credentials=SamCredentials(OPERATOR, "bot", KEY_SECRET))
    await client.get_subscriber(IMSI)
    assert json.loads(api.requests[0].content) == {
        "operatorId": OPERATOR, "userName": "bot", "password": KEY_SECRET, "tokenTimeoutSeconds": 86400}


async def test_concurrent_first_calls_authenticate_once(api, sleeps):
    client = make_client(api, sleeps)
    await asyncio.gather(*(client.get_subscriber(IMSI) for _ in range(10)))
    assert len(api.sent("POST /auth")) == 1
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 10


async def test_wrong_credentials_raise_auth_failed_without_retry(api, sleeps):
    client = make_client(api, sleeps, credentials=AuthKeyCredentials(KEY_ID, "wrong"))
    with pytest.raises(AuthFailed) as caught:
        await client.get_subscriber(IMSI)
    assert caught.value.status == 401 and caught.value.code == "AUM0004"
    assert len(api.sent("POST /auth")) == 1 and not api.sent(f"GET /subscribers/{IMSI}")


# Retries and backoff


async def test_429_is_retried_after_the_header_wait(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", error(429, headers={RATE_LIMIT_HEADER: "7"}))
    sub = await make_client(api, sleeps).get_subscriber(IMSI)
    assert sub.imsi == IMSI
    assert sleeps.waits == [7.0]
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 2


async def test_rate_limit_wait_is_capped(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", error(429, headers={RATE_LIMIT_HEADER: "3600"}))
    await make_client(api, sleeps).get_subscriber(IMSI)
    assert sleeps.waits == [MAX_RATE_LIMIT_WAIT]


async def test_429_without_header_backs_off_and_gives_up_as_rate_limited(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", *[error(429, "COM0009", "Too many requests") for _ in range(3)])
    client = make_client(api, sleeps, max_retries=2, backoff_base=1.0)
    with pytest.raises(RateLimited) as caught:
        await client.get_subscriber(IMSI)
    assert caught.value.status == 429 and caught.value.code == "COM0009"
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 3
    assert len(sleeps.waits) == 2 and 0 <= sleeps.waits[0] <= 1.0 and 0 <= sleeps.waits[1] <= 2.0


async def test_500_then_success_is_retried_for_a_read(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", error(500))
    assert (await make_client(api, sleeps).get_subscriber(IMSI)).imsi == IMSI
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 2 and len(sleeps.waits) == 1


async def test_500_then_success_is_retried_for_an_idempotent_action(api, sleeps):
    api.queue(f"POST /subscribers/{IMSI}/set_group", error(503))
    await make_client(api, sleeps).set_group(IMSI, "g-1")
    sent = api.sent(f"POST /subscribers/{IMSI}/set_group")
    assert len(sent) == 2 and all(json.loads(r.content) == {"groupId": "g-1"} for r in sent)


async def test_transport_error_then_success(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", httpx.ReadError("connection reset"))
    assert (await make_client(api, sleeps).get_subscriber(IMSI)).imsi == IMSI
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 2


async def test_backoff_grows_exponentially_with_full_jitter(api, sleeps, monkeypatch):
    monkeypatch.setattr("bot.soracom.client.random.uniform", lambda low, high: high)  # the jitter's upper bound
    api.queue(f"GET /subscribers/{IMSI}", *[error(502) for _ in range(4)])
    await make_client(api, sleeps, backoff_base=0.5, backoff_cap=3.0).get_subscriber(IMSI)
    assert sleeps.waits == [0.5, 1.0, 2.0, 3.0]


async def test_unreachable_api_raises_soracom_unavailable_after_every_retry(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", *[httpx.ConnectError("refused") for _ in range(5)])
    with pytest.raises(SoracomUnavailable) as caught:
        await make_client(api, sleeps, max_retries=4).get_subscriber(IMSI)
    assert caught.value.status == 0 and "ConnectError" in str(caught.value)
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 5 and len(sleeps.waits) == 4


async def test_create_quotation_is_not_repeated_after_an_ambiguous_failure(api, sleeps):
    api.queue("POST /orders", error(500, "COM0001", "Internal error"))
    with pytest.raises(SoracomError) as caught:
        await make_client(api, sleeps).create_quotation({"4573326590273": 2}, "addr-1")
    assert caught.value.status == 500
    assert len(api.sent("POST /orders")) == 1 and sleeps.waits == []


async def test_create_quotation_read_timeout_is_not_repeated(api, sleeps):
    api.queue("POST /orders", httpx.ReadTimeout("slow"))
    with pytest.raises(SoracomUnavailable):
        await make_client(api, sleeps).create_quotation({"4573326590273": 2}, "addr-1")
    assert len(api.sent("POST /orders")) == 1


async def test_create_quotation_is_repeated_when_the_server_surely_did_not_act(api, sleeps):
    api.default["POST /orders"] = {"orderId": "q-1", "totalAmount": 4147}
    api.queue("POST /orders", httpx.ConnectError("refused"), error(429, headers={RATE_LIMIT_HEADER: "1"}))
    quotation = await make_client(api, sleeps).create_quotation({"4573326590273": 2}, "addr-1")
    assert quotation.orderId == "q-1" and quotation.totalAmount == 4147
    sent = api.sent("POST /orders")
    assert len(sent) == 3
    assert json.loads(sent[-1].content) == {
        "orderItemList": [{"productCode": "4573326590273", "quantity": 2}], "shippingAddressId": "addr-1"}


async def test_confirm_order_is_not_sent_again_when_the_order_is_already_confirmed(api, sleeps):
    confirmed = {"orderId": "o-1", "orderStatus": "orderProcessing", "totalAmount": 4147}
    api.queue("PUT /orders/o-1/confirm", error(500))
    api.default["GET /orders/o-1"] = confirmed
    order = await make_client(api, sleeps).confirm_order("o-1")
    assert order.orderStatus == "orderProcessing"
    assert len(api.sent("PUT /orders/o-1/confirm")) == 1
    assert len(api.sent("GET /orders/o-1")) == 1


async def test_confirm_order_is_repeated_when_the_order_is_still_a_quotation(api, sleeps):
    api.queue("PUT /orders/o-1/confirm", httpx.ReadError("reset"))
    api.default["GET /orders/o-1"] = {"orderId": "o-1", "totalAmount": 4147}
    api.default["PUT /orders/o-1/confirm"] = {"orderId": "o-1", "orderStatus": "orderProcessing"}
    order = await make_client(api, sleeps).confirm_order("o-1")
    assert order.orderStatus == "orderProcessing"
    assert len(api.sent("PUT /orders/o-1/confirm")) == 2


async def test_confirm_order_is_repeated_when_the_quotation_is_not_an_order_yet(api, sleeps):
    api.queue("PUT /orders/o-1/confirm", error(502))
    api.queue("GET /orders/o-1", error(404, "ORM0001", "The specified order o-1 does not exist."))
    api.default["PUT /orders/o-1/confirm"] = {"orderId": "o-1", "orderStatus": "orderProcessing"}
    assert (await make_client(api, sleeps).confirm_order("o-1")).orderStatus == "orderProcessing"
    assert len(api.sent("PUT /orders/o-1/confirm")) == 2


async def test_confirm_order_raises_the_first_error_when_the_order_cannot_be_checked(api, sleeps):
    api.queue("PUT /orders/o-1/confirm", error(500, message="confirm broke"))
    api.queue("GET /orders/o-1", error(403, "SAM0001", "The SAM user bot is not allowed to call Order:getOrder."))
    with pytest.raises(SoracomError) as caught:
        await make_client(api, sleeps).confirm_order("o-1")
    assert caught.value.status == 500 and caught.value.message == "confirm broke"
    assert len(api.sent("PUT /orders/o-1/confirm")) == 1


async def test_client_errors_are_not_retried(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", error(404, "SEM0001", f"The subscriber {IMSI} does not exist."))
    with pytest.raises(NotFound) as caught:
        await make_client(api, sleeps).get_subscriber(IMSI)
    assert caught.value.code == "SEM0001"
    assert str(caught.value) == f"SORACOM API error 404 SEM0001: The subscriber {IMSI} does not exist."
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 1 and sleeps.waits == []


# Tokens


async def test_expired_token_mid_session_authenticates_again_once(api, sleeps):
    client = make_client(api, sleeps)
    await client.get_subscriber(IMSI)
    api.expire_tokens()
    await client.get_subscriber(IMSI)
    assert len(api.sent("POST /auth")) == 2
    calls = api.sent(f"GET /subscribers/{IMSI}")
    assert [r.headers["x-soracom-token"] for r in calls] == ["token-1", "token-1", "token-2"]


async def test_token_refused_again_after_a_new_authentication_raises_without_looping(api, sleeps):
    rejected = error(401, "AUM0002", "Invalid API key or API token.")
    api.queue(f"GET /subscribers/{IMSI}", rejected, rejected, rejected)
    with pytest.raises(AuthFailed):
        await make_client(api, sleeps).get_subscriber(IMSI)
    assert len(api.sent("POST /auth")) == 2
    assert len(api.sent(f"GET /subscribers/{IMSI}")) == 2


async def test_permission_403_is_raised_without_authenticating_again(api, sleeps):
    api.queue(f"POST /subscribers/{IMSI}/terminate",
              error(403, "SAM0001", "The SAM user bot is not allowed to call Subscriber:terminateSubscriber."))
    with pytest.raises(PermissionDenied) as caught:
        await make_client(api, sleeps).terminate_subscriber(IMSI)
    assert caught.value.status == 403
    assert len(api.sent("POST /auth")) == 1 and len(api.sent(f"POST /subscribers/{IMSI}/terminate")) == 1


async def test_403_about_the_token_authenticates_again(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", error(403, "AUM0003", "Expired token"))
    assert (await make_client(api, sleeps).get_subscriber(IMSI)).imsi == IMSI
    assert len(api.sent("POST /auth")) == 2


async def test_token_is_refreshed_shortly_before_expiry(api, sleeps, clock):
    client = make_client(api, sleeps, clock, token_timeout_seconds=1000)
    await client.get_subscriber(IMSI)
    clock.now += 850
    await client.get_subscriber(IMSI)
    assert not api.sent(f"POST /operators/{OPERATOR}/token")
    clock.now += 70  # still valid, but within the refresh margin (the last tenth of the lifetime)
    await client.get_subscriber(IMSI)
    clock.now += 50
    await client.get_subscriber(IMSI)
    refresh = api.sent(f"POST /operators/{OPERATOR}/token")
    assert len(refresh) == 1 and len(api.sent("POST /auth")) == 1
    assert refresh[0].headers["x-soracom-token"] == "token-1"
    assert json.loads(refresh[0].content) == {"tokenTimeoutSeconds": 1000}
    calls = api.sent(f"GET /subscribers/{IMSI}")
    assert [r.headers["x-soracom-token"] for r in calls] == ["token-1", "token-1", "token-2", "token-2"]


async def test_token_past_expiry_means_a_new_authentication(api, sleeps, clock):
    client = make_client(api, sleeps, clock, token_timeout_seconds=1000)
    await client.get_subscriber(IMSI)
    clock.now += 1001
    await client.get_subscriber(IMSI)
    assert len(api.sent("POST /auth")) == 2 and not api.sent(f"POST /operators/{OPERATOR}/token")


async def test_refused_refresh_falls_back_to_authentication(api, sleeps, clock):
    client = make_client(api, sleeps, clock, token_timeout_seconds=1000)
    await client.get_subscriber(IMSI)
    api.queue(f"POST /operators/{OPERATOR}/token", error(401, "AUM0003", "The API token has expired."))
    clock.now += 950
    await client.get_subscriber(IMSI)
    assert len(api.sent("POST /auth")) == 2
    assert api.sent(f"GET /subscribers/{IMSI}")[-1].headers["x-soracom-token"] == "token-2"


async def test_failed_refresh_keeps_the_still_valid_token(api, sleeps, clock):
    client = make_client(api, sleeps, clock, token_timeout_seconds=1000, max_retries=1)
    await client.get_subscriber(IMSI)
    api.queue(f"POST /operators/{OPERATOR}/token", error(503), error(503))
    clock.now += 950
    assert (await client.get_subscriber(IMSI)).imsi == IMSI
    assert len(api.sent(f"POST /operators/{OPERATOR}/token")) == 2 and len(api.sent("POST /auth")) == 1
    assert api.sent(f"GET /subscribers/{IMSI}")[-1].headers["x-soracom-token"] == "token-1"
    await client.get_subscriber(IMSI)  # the next call tries again, and succeeds
    assert api.sent(f"GET /subscribers/{IMSI}")[-1].headers["x-soracom-token"] == "token-2"


async def test_logout_forgets_the_session(api, sleeps):
    client = make_client(api, sleeps)
    await client.get_subscriber(IMSI)
    await client.logout()
    await client.get_subscriber(IMSI)
    assert len(api.sent("POST /auth/logout")) == 1 and len(api.sent("POST /auth")) == 2


# Pagination


def paged_subscribers(total: int) -> Callable[[httpx.Request], httpx.Response]:
    imsis = [f"4401000000{n:05d}" for n in range(1, total + 1)]

    def answer(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        after = request.url.params.get("last_evaluated_key")
        start = imsis.index(after) + 1 if after else 0
        page = imsis[start:start + limit]
        more = start + limit < len(imsis)
        return httpx.Response(200, json=[{"imsi": i} for i in page],
                              headers={"x-soracom-next-key": page[-1]} if more else {})

    return answer


async def test_iteration_follows_next_key_page_by_page(api, sleeps):
    api.queue("GET /subscribers", *[paged_subscribers(250)] * 3)
    client = make_client(api, sleeps)
    imsis = [s.imsi async for s in client.iter_subscribers(status_filter="active", limit=100)]
    assert len(imsis) == 250 and len(set(imsis)) == 250
    sent = api.sent("GET /subscribers")
    assert len(sent) == 3
    assert [r.url.params.get("last_evaluated_key") for r in sent] == [None, "440100000000100", "440100000000200"]
    assert all(r.url.params["status_filter"] == "active" and r.url.params["limit"] == "100" for r in sent)


async def test_one_page_gives_items_and_next_key(api, sleeps):
    api.queue("GET /subscribers", paged_subscribers(30))
    page = await make_client(api, sleeps).list_subscribers(limit=10, tag_name="site", tag_value="osaka")
    assert [s.imsi for s in page.items][-1] == "440100000000010" and page.next_key == "440100000000010"
    params = api.sent("GET /subscribers")[0].url.params
    assert params["tag_name"] == "site" and params["tag_value"] == "osaka"
    assert "speed_class_filter" not in params


async def test_page_size_above_the_api_maximum_is_refused(api, sleeps):
    with pytest.raises(ValueError, match="between 1 and 100"):
        await make_client(api, sleeps).list_subscribers(limit=101)
    assert api.requests == []


# Errors and secrets


async def test_non_json_error_body_gives_a_plain_message(api, sleeps):
    api.queue("POST /orders", httpx.Response(502, text="<html><body>Bad Gateway</body></html>\n"))
    with pytest.raises(SoracomError) as caught:
        await make_client(api, sleeps).create_quotation({"p": 1}, "addr-1")
    text = str(caught.value)
    assert caught.value.status == 502 and caught.value.code is None
    assert "502" in text and "Bad Gateway" in text and "\n" not in text


async def test_empty_error_body_gives_the_status(api, sleeps):
    api.queue(f"GET /subscribers/{IMSI}", httpx.Response(404))
    with pytest.raises(NotFound) as caught:
        await make_client(api, sleeps).get_subscriber(IMSI)
    assert str(caught.value) == "SORACOM API error 404: Not Found"


async def test_secrets_never_reach_logs_errors_or_reprs(api, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(api, sleeps)
    await client.get_subscriber(IMSI)
    api.queue(f"GET /subscribers/{IMSI}", *[httpx.ConnectError(f"refused token-1 {KEY_SECRET}")] * 5)
    with pytest.raises(SoracomUnavailable) as caught:
        await client.get_subscriber(IMSI)
    auth = await client.auth()
    shown = " ".join([caplog.text, str(caught.value), repr(client), repr(auth), repr(client._credentials)])
    for secret in (KEY_SECRET, "token-1", "token-2", "api-key-1"):
        assert secret not in shown
    assert "GET /subscribers/{imsi} -> 200" in caplog.text


async def test_generate_auth_token_replaces_the_token(api, sleeps):
    client = make_client(api, sleeps)
    first = await client.auth()
    second = await client.generate_auth_token()
    assert (first.token, second.token) == ("token-1", "token-2")
    assert (second.apiKey, second.operatorId) == ("api-key-1", OPERATOR)
    await client.get_subscriber(IMSI)
    assert api.requests[-1].headers["x-soracom-token"] == "token-2"



# Against the emulator and its fault knobs


class EmulatorSleep:
    """The injected sleep moves the emulator's clock instead of waiting: rate-limit windows pass at once."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.state.advance(seconds)


class LosesResponses(httpx.AsyncBaseTransport):
    """Forwards every request, then loses the answer of the first `times` requests that match."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path_suffix: str, times: int = 1,
                 before_sending: bool = False) -> None:
        self.inner, self.method, self.suffix, self.times = inner, method, path_suffix, times
        self.before_sending = before_sending

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hit = self.times > 0 and request.method == self.method and request.url.path.endswith(self.suffix)
        if hit:
            self.times -= 1
            if self.before_sending:
                raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if hit:
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState(now=PinnedClock())


@pytest.fixture
def emulator_sleep(state: EmulatorState) -> EmulatorSleep:
    return EmulatorSleep(state)


def on_emulator(state: EmulatorState, sleep: EmulatorSleep, transport: httpx.AsyncBaseTransport | None = None,
                **options: Any) -> SoracomClient:
    return SoracomClient(
        endpoint="http://soracom-emulator.localhost",
        credentials=AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
        transport=transport or httpx.ASGITransport(app=create_app(state)),
        sleep=sleep,
        **options,
    )


def recorded(state: EmulatorState, operation_id: str) -> list[int]:
    return [r.status for r in state.requests if r.operation_id == operation_id]


async def test_emulator_429_wait_comes_from_the_header(state, emulator_sleep):
    state.faults.fail_next("GET", rf"/subscribers/{IMSI}$", status=429, headers={RATE_LIMIT_HEADER: "3"})
    async with on_emulator(state, emulator_sleep) as client:
        assert (await client.get_subscriber(IMSI)).imsi == IMSI
    assert emulator_sleep.waits == [3.0]
    assert [r.status for r in state.requests if r.path == f"/v1/subscribers/{IMSI}"] == [429, 200]


async def test_a_run_of_calls_waits_out_the_rate_limit(state, emulator_sleep):
    state.faults.rate_limit("/v1/subscribers", limit=5, per_seconds=2)
    imsis = sorted(state.subscribers)[:20]
    async with on_emulator(state, emulator_sleep) as client:
        for imsi in imsis:
            await client.activate_subscriber(imsi) if state.subscribers[imsi]["status"] == "ready" else None
            assert (await client.get_subscriber(imsi)).imsi == imsi
    statuses = [r.status for r in state.requests if r.path.startswith("/v1/subscribers")]
    assert statuses.count(429) == len(emulator_sleep.waits) >= 3
    assert all(wait == 2.0 for wait in emulator_sleep.waits)
    assert recorded(state, "getSubscriber").count(200) == 20


async def test_emulator_500_then_success_changes_state_once(state, emulator_sleep):
    state.faults.fail_next("POST", r"/activate$", status=500)
    async with on_emulator(state, emulator_sleep) as client:
        await client.activate_subscriber("440100000000005")
    assert state.subscribers["440100000000005"]["status"] == "active"
    assert [r.status for r in state.requests if r.path.endswith("/activate")] == [500, 200]


async def test_emulator_lost_response_of_an_idempotent_action_is_repeated(state, emulator_sleep):
    transport = LosesResponses(httpx.ASGITransport(app=create_app(state)), "POST", "/set_group")
    async with on_emulator(state, emulator_sleep, transport) as client:
        sub = await client.set_group("440100000000005", SEED_GROUP_ID)
    assert sub.groupId == SEED_GROUP_ID == state.subscribers["440100000000005"]["groupId"]
    assert recorded(state, "setGroup") == [200, 200]


async def test_emulator_expired_token_mid_session(state, emulator_sleep):
    state.faults.token_lifetime = 60
    async with on_emulator(state, emulator_sleep) as client:
        await client.get_subscriber(IMSI)
        state.advance(61)
        await client.get_subscriber(IMSI)
    assert recorded(state, "auth") == [200, 200]
    assert recorded(state, "getSubscriber") == [200, 401, 200]


async def test_emulator_token_refreshed_before_expiry(state, emulator_sleep):
    async with on_emulator(state, emulator_sleep, token_timeout_seconds=1000,
                           clock=lambda: state.now().timestamp()) as client:
        await client.get_subscriber(IMSI)
        state.advance(950)
        await client.get_subscriber(IMSI)
        state.advance(500)  # past the first token's lifetime, well within the refreshed one
        await client.get_subscriber(IMSI)
    assert recorded(state, "auth") == [200]
    assert recorded(state, "generateAuthToken") == [200]
    assert recorded(state, "getSubscriber") == [200, 200, 200]


async def test_emulator_pagination_over_250_sims_takes_3_requests(state, emulator_sleep):
    added = state.add_subscribers(250, tags={"batch": "pallet-7"})
    async with on_emulator(state, emulator_sleep) as client:
        found = [s.imsi async for s in client.iter_subscribers(tag_name="batch", tag_value="pallet-7", limit=100)]
    assert found == [s["imsi"] for s in added]
    lists = [r for r in state.requests if r.operation_id == "listSubscribers"]
    assert len(lists) == 3
    assert [r.query.get("last_evaluated_key") for r in lists] == [None, added[99]["imsi"], added[199]["imsi"]]


async def test_emulator_non_json_error_body(state, emulator_sleep):
    state.faults.fail_next("POST", r"/groups$", status=503, body="<html>upstream unavailable</html>")
    async with on_emulator(state, emulator_sleep) as client:
        with pytest.raises(SoracomError) as caught:
            await client.create_group({"name": "never"})
    assert caught.value.status == 503 and "upstream unavailable" in str(caught.value)
    assert not any(g["tags"].get("name") == "never" for g in state.groups.values())
    assert [(r.method, r.path, r.status) for r in state.requests[1:]] == [("POST", "/v1/groups", 503)]


async def test_emulator_confirm_order_not_sent_twice_when_already_confirmed(state, emulator_sleep):
    transport = LosesResponses(httpx.ASGITransport(app=create_app(state)), "PUT", "/confirm")
    async with on_emulator(state, emulator_sleep, transport) as client:
        quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 1}, SEED_SHIPPING_ADDRESS_ID)
        order = await client.confirm_order(quotation.orderId)
    assert order.orderStatus == state.orders[quotation.orderId]["orderStatus"] == "orderProcessing"
    assert recorded(state, "confirmOrder") == [200]
    assert recorded(state, "getOrder") == [200]


async def test_emulator_confirm_order_sent_again_when_it_never_arrived(state, emulator_sleep):
    transport = LosesResponses(httpx.ASGITransport(app=create_app(state)), "PUT", "/confirm", before_sending=True)
    async with on_emulator(state, emulator_sleep, transport) as client:
        quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 1}, SEED_SHIPPING_ADDRESS_ID)
        order = await client.confirm_order(quotation.orderId)
    assert order.orderStatus == "orderProcessing"
    assert recorded(state, "confirmOrder") == [200]


async def test_emulator_confirm_order_500_then_checked_and_repeated(state, emulator_sleep):
    state.faults.fail_next("PUT", r"/confirm$", status=500)
    async with on_emulator(state, emulator_sleep) as client:
        quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 1}, SEED_SHIPPING_ADDRESS_ID)
        order = await client.confirm_order(quotation.orderId)
    assert order.orderStatus == state.orders[quotation.orderId]["orderStatus"] == "orderProcessing"
    assert [r.status for r in state.requests if r.path.endswith("/confirm")] == [500, 200]
    assert len(recorded(state, "getOrder")) == 1  # checked first: still a quotation, so sent again


async def test_emulator_create_quotation_not_repeated_after_a_lost_response(state, emulator_sleep):
    transport = LosesResponses(httpx.ASGITransport(app=create_app(state)), "POST", "/orders")
    async with on_emulator(state, emulator_sleep, transport) as client:
        with pytest.raises(SoracomUnavailable):
            await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 1}, SEED_SHIPPING_ADDRESS_ID)
    assert recorded(state, "createQuotation") == [201]
    assert len(state.orders) == 1 + sum(1 for o in state.orders.values() if "orderStatus" in o)
