"""The async SORACOM API client: authentication and token refresh, retries, pagination, typed errors.

Each public method is one API operation, named snake_case of the spec's operationId; its method, path
and retry rule are in `operations.OPERATIONS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from bot.soracom.credentials import Credentials
from bot.soracom.errors import (
    AuthFailed,
    NotFound,
    PermissionDenied,
    SoracomError,
    SoracomUnavailable,
    error_from_response,
)
from bot.soracom.models import (
    AirStats,
    AuthKey,
    AuthResult,
    Bill,
    BillExport,
    BillItemSummary,
    CellLocation,
    DailyBill,
    Diagnostic,
    DownlinkPing,
    EventHandler,
    ExportedFile,
    Group,
    LatestBill,
    MfaEnable,
    MfaVerify,
    OperatorMfaStatus,
    Order,
    Page,
    RateWindow,
    PayerInformation,
    PortMapping,
    ProductList,
    Quotation,
    ShippingAddress,
    Sim,
    SessionEvent,
    SimBillSummary,
    SimStatusHistory,
    SmsForwardingReport,
    Subscriber,
)
from bot.soracom.language import LANG_HEADER, error_language
from bot.soracom.operations import OPERATIONS, Operation, Retry
from bot.soracom.wire import Reply, Wire


log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Settle = Callable[[], Awaitable[Reply | None]]

RATE_LIMIT_HEADER = "X-Soracom-Ratelimit-Seconds-Before-Refresh"
NEXT_KEY_HEADER = "x-soracom-next-key"
MAX_RATE_LIMIT_WAIT = 60.0
MAX_PAGE_SIZE = 100
DEFAULT_TOKEN_TIMEOUT = 86400  # seconds; SORACOM allows up to 172800
MAX_TOKEN_TIMEOUT = 172800
# Each request carries its operationId here, for transports and event hooks that observe the client.
OPERATION_EXTENSION = "soracom_operation_id"
# Failures where the request surely never reached the server: repeating them is always safe.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class _Session:
    api_key: str
    token: str
    operator_id: str
    user_name: str | None
    expires_at: float  # on the client's clock

    def headers(self) -> dict[str, str]:
        return {"X-Soracom-API-Key": self.api_key, "X-Soracom-Token": self.token}


def _model(model: type[M], response: Reply) -> M:
    # Parsed and validated in one pass by pydantic's own JSON reader: a third of json.loads and then validating.
    return model.model_validate_json(response.content)


def _models(model: type[M], data: Any) -> list[M]:
    return [model.model_validate(item) for item in data or []]


def _json_list(response: Reply) -> list[Any]:
    """The answer's JSON array; an answer that is not one is SORACOM's error (a page read as empty would make the
    SIMs of the rest of it vanish from what the caller builds)."""
    try:
        items = jsonlib.loads(response.content)
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise SoracomError(response.status_code, None, "the answer is not the JSON list of items its call returns")
    return items


def _rate_window(response: Reply) -> RateWindow | None:
    """SORACOM's rate-limit headers, so a long paging can keep under the limit instead of meeting 429s."""
    try:
        return RateWindow(int(response.headers["X-Soracom-Ratelimit-Limit"]),
                          int(response.headers["X-Soracom-Ratelimit-Remaining"]),
                          float(response.headers[RATE_LIMIT_HEADER]))
    except (KeyError, ValueError):
        return None


def _query(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")


def _body(data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(data, BaseModel):
        return data.model_dump(exclude_none=True)
    return {name: value for name, value in data.items() if value is not None}


def _token_may_be_stale(error: SoracomError) -> bool:
    """A 401, or a 403 that speaks of the token or key: a fresh token may cure it; other 403s are permissions."""
    if isinstance(error, AuthFailed):
        return True
    text = f"{error.code or ''} {error.message}".lower()
    return isinstance(error, PermissionDenied) and any(w in text for w in ("token", "api key", "apikey", "expired"))


class SoracomClient:
    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        lang: str = "en",
        transport: httpx.AsyncBaseTransport | None = None,
        token_timeout_seconds: int = DEFAULT_TOKEN_TIMEOUT,
        max_retries: int = 4,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        timeout: float = 30.0,
    ) -> None:
        if not 1 <= token_timeout_seconds <= MAX_TOKEN_TIMEOUT:
            raise ValueError(f"token_timeout_seconds must be between 1 and {MAX_TOKEN_TIMEOUT}")
        self._http = httpx.AsyncClient(
            base_url=endpoint.rstrip("/") + "/v1",
            transport=transport,
            headers={LANG_HEADER: lang, "Accept": "application/json"},
            timeout=timeout,
        )
        # A real endpoint is reached through aiohttp (bot.soracom.wire says why); a given transport through httpx.
        self._wire = Wire({LANG_HEADER: lang, "Accept": "application/json"}, timeout) if transport is None else None
        # Operations are sent to absolute URLs: httpx merging a relative one into the base URL parses both again on
        # every call (a third of what building a request costs).
        self._base = str(self._http.base_url).rstrip("/")
        self._credentials = credentials
        self._token_timeout = token_timeout_seconds
        # Refresh a tenth of the lifetime before expiry, at most five minutes before.
        self._refresh_margin = min(300.0, token_timeout_seconds / 10)
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._session: _Session | None = None
        self._auth_lock = asyncio.Lock()

    async def __aenter__(self) -> "SoracomClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._wire is not None:
            await self._wire.aclose()
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"SoracomClient({self._http.base_url}, {self._credentials!r})"

    # Transport: one operation, with retries

    async def _call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        settle: Settle | None = None,
        **path: str,
    ) -> Reply:
        """Sends one operation; re-authenticates once when the token turns out stale."""
        op = OPERATIONS[operation_id]
        url = self._base + op.path.format(**{name: quote(str(value), safe="") for name, value in path.items()})
        query = _query(params or {})
        if not op.authenticated:
            return await self._send(op, url, query, json, {}, settle)
        session = await self._current_session()
        try:
            return await self._send(op, url, query, json, session.headers(), settle)
        except SoracomError as exc:
            if not _token_may_be_stale(exc):
                raise
            log.debug("token refused on %s %s, authenticating again", op.method, op.path)
            session = await self._replace_session(session)
            return await self._send(op, url, query, json, session.headers(), settle)

    async def _send(
        self,
        op: Operation,
        url: str,
        params: dict[str, Any],
        json: Any,
        headers: dict[str, str],
        settle: Settle | None,
    ) -> Reply:
        attempt = 0
        if (lang := error_language()) is not None:  # the reader's, over the client's default
            headers = {**headers, LANG_HEADER: lang}
        while True:
            last = attempt >= self._max_retries
            response: Reply
            try:
                if self._wire is not None:
                    response = await self._wire.request(op.method, url, params=params, json_body=json,
                                                        headers=headers)
                else:
                    response = await self._http.request(op.method, url, params=params or None, json=json,
                                                        headers=headers,
                                                        extensions={OPERATION_EXTENSION: op.operation_id})
            except httpx.TransportError as exc:
                log.debug("%s %s -> %s", op.method, op.path, type(exc).__name__)
                error: SoracomError = SoracomUnavailable(f"SORACOM API unreachable ({type(exc).__name__})")
                if last:
                    raise error from exc
                if not isinstance(exc, _NEVER_SENT):
                    settled = await self._after_ambiguous_failure(op, settle, error)
                    if settled is not None:
                        return settled
                await self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            log.debug("%s %s -> %s", op.method, op.path, response.status_code)
            if response.status_code < 400:
                return response
            wait = self._rate_limit_wait(response)
            error = error_from_response(response, wait)
            if last or not (response.status_code == 429 or response.status_code >= 500):
                raise error
            if response.status_code >= 500:
                settled = await self._after_ambiguous_failure(op, settle, error)
                if settled is not None:
                    return settled
            await self._sleep(wait or self._backoff(attempt))
            attempt += 1

    async def _after_ambiguous_failure(
        self, op: Operation, settle: Settle | None, error: SoracomError
    ) -> Reply | None:
        """None when repeating is safe; the settled answer when the first call already took effect; else raises."""
        if op.retry is Retry.IDEMPOTENT:
            return None
        if op.retry is Retry.ONCE or settle is None:
            raise error
        try:
            return await settle()
        except SoracomError:
            raise error from None

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt))

    @staticmethod
    def _rate_limit_wait(response: Reply) -> float | None:
        value = response.headers.get(RATE_LIMIT_HEADER)
        try:
            return min(MAX_RATE_LIMIT_WAIT, max(0.0, float(value))) if value is not None else None
        except ValueError:
            return None

    # Authentication

    async def _current_session(self) -> _Session:
        session = self._session
        if session is not None and not self._auth_lock.locked() and (
                self._clock() < session.expires_at - self._refresh_margin):
            return session  # the common case, without the lock's round trip (a bulk job asks for every call)
        async with self._auth_lock:
            session, now = self._session, self._clock()
            if session is None or now >= session.expires_at:
                session = self._session = await self._authenticate()
            elif now >= session.expires_at - self._refresh_margin:
                session = self._session = await self._refresh(session)
            return session

    async def _replace_session(self, stale: _Session) -> _Session:
        """A new session, unless another call already replaced the stale one meanwhile."""
        async with self._auth_lock:
            if self._session is None or self._session is stale:
                self._session = await self._authenticate()
            return self._session

    async def _authenticate(self) -> _Session:
        started = self._clock()
        body = {**self._credentials.auth_body(), "tokenTimeoutSeconds": self._token_timeout}
        result = _model(AuthResult, await self._call("auth", json=body))
        if not (result.apiKey and result.token and result.operatorId):
            raise AuthFailed(200, None, "authentication answered without an API key, token or operator ID")
        return _Session(result.apiKey, result.token, result.operatorId, result.userName,
                        started + self._token_timeout)

    async def _refresh(self, session: _Session) -> _Session:
        """A new token through generateAuthToken; a full authentication when that is refused.

        Any other failure keeps the current token, still valid: the next call tries to refresh again.
        """
        started = self._clock()
        op = OPERATIONS["generateAuthToken"]
        url = self._base + op.path.format(operator_id=quote(session.operator_id, safe=""))
        try:
            response = await self._send(op, url, {}, {"tokenTimeoutSeconds": self._token_timeout},
                                        session.headers(), None)
        except (AuthFailed, PermissionDenied):
            return await self._authenticate()
        except SoracomError as exc:
            log.debug("token refresh failed (%s), keeping the current token", exc.status)
            return session
        token = response.json().get("token")
        if not token:
            return await self._authenticate()
        return _Session(session.api_key, token, session.operator_id, session.user_name,
                        started + self._token_timeout)

    async def _operator(self, operator_id: str | None) -> str:
        return operator_id or (await self._current_session()).operator_id

    def _result(self) -> AuthResult:
        assert self._session is not None
        s = self._session
        return AuthResult(apiKey=s.api_key, token=s.token, operatorId=s.operator_id, userName=s.user_name)

    async def auth(self) -> AuthResult:
        """Authenticates now (the client otherwise does it lazily on its first call)."""
        async with self._auth_lock:
            self._session = await self._authenticate()
            return self._result()

    async def generate_auth_token(self) -> AuthResult:
        """Replaces the current token by a new one with a full lifetime."""
        session = await self._current_session()
        async with self._auth_lock:
            self._session = await self._refresh(session)
            return self._result()

    async def logout(self) -> None:
        if self._session is None:
            return
        await self._call("logout")
        self._session = None

    @property
    def operator_id(self) -> str | None:
        """The operator of the current session; None before the first call."""
        return self._session.operator_id if self._session else None

    # Operator account (createOperator / verifyOperator are outside the current spec)

    async def create_operator(self, email: str, password: str) -> None:
        await self._call("createOperator", json={"email": email, "password": password})

    async def verify_operator(self, token: str) -> None:
        await self._call("verifyOperator", json={"token": token})

    async def issue_password_reset_token(self, email: str) -> None:
        await self._call("issuePasswordResetToken", json={"email": email})

    async def verify_password_reset_token(self, token: str, password: str) -> None:
        await self._call("verifyPasswordResetToken", json={"token": token, "password": password})

    async def enable_mfa(self, operator_id: str | None = None) -> MfaEnable:
        return _model(MfaEnable, await self._call("enableMFA", operator_id=await self._operator(operator_id)))

    async def verify_mfa(self, mfa_otp_code: str, operator_id: str | None = None) -> MfaVerify:
        response = await self._call("verifyMFA", json={"mfaOTPCode": mfa_otp_code},
                                    operator_id=await self._operator(operator_id))
        return _model(MfaVerify, response)

    async def get_mfa_status(self, operator_id: str | None = None) -> OperatorMfaStatus:
        response = await self._call("getMFAStatus", operator_id=await self._operator(operator_id))
        return _model(OperatorMfaStatus, response)

    async def revoke_mfa(self, password: str, operator_id: str | None = None) -> None:
        await self._call("revokeMFA", json={"password": password}, operator_id=await self._operator(operator_id))

    # SAM users

    async def create_user(self, user_name: str, description: str | None = None,
                          operator_id: str | None = None) -> None:
        await self._call("createUser", json=_body({"description": description}),
                         operator_id=await self._operator(operator_id), user_name=user_name)

    async def update_user_permission(self, user_name: str, permission: str | Mapping[str, Any],
                                     description: str | None = None, operator_id: str | None = None) -> None:
        """`permission` is the SAM permission document, as JSON text or as a mapping."""
        text = permission if isinstance(permission, str) else jsonlib.dumps(permission)
        await self._call("updateUserPermission", json=_body({"permission": text, "description": description}),
                         operator_id=await self._operator(operator_id), user_name=user_name)

    async def generate_user_auth_key(self, user_name: str, operator_id: str | None = None) -> AuthKey:
        response = await self._call("generateUserAuthKey", operator_id=await self._operator(operator_id),
                                    user_name=user_name)
        return _model(AuthKey, response)

    # Payment and shipping

    async def get_payer_information(self) -> PayerInformation:
        return _model(PayerInformation, await self._call("getPayerInformation"))

    async def register_payer_information(self, info: PayerInformation | Mapping[str, Any]) -> None:
        await self._call("registerPayerInformation", json=_body(info))

    async def list_shipping_addresses(self, operator_id: str | None = None) -> list[ShippingAddress]:
        response = await self._call("listShippingAddresses", operator_id=await self._operator(operator_id))
        return _models(ShippingAddress, response.json().get("shippingAddresses"))

    async def create_shipping_address(self, address: ShippingAddress | Mapping[str, Any],
                                      operator_id: str | None = None) -> ShippingAddress:
        body = _body(address)
        body.pop("shippingAddressId", None)
        body.pop("shippingArea", None)
        response = await self._call("createShippingAddress", json=body, operator_id=await self._operator(operator_id))
        return _model(ShippingAddress, response)

    async def get_shipping_address(self, shipping_address_id: str, operator_id: str | None = None) -> ShippingAddress:
        response = await self._call("getShippingAddress", operator_id=await self._operator(operator_id),
                                    shipping_address_id=shipping_address_id)
        return _model(ShippingAddress, response)

    async def delete_shipping_address(self, shipping_address_id: str, operator_id: str | None = None) -> None:
        await self._call("deleteShippingAddress", operator_id=await self._operator(operator_id),
                         shipping_address_id=shipping_address_id)

    # Orders

    async def list_products(self, campaign_code: str | None = None) -> ProductList:
        return _model(ProductList, await self._call("listProducts", params={"campaign_code": campaign_code}))

    async def create_quotation(self, items: Mapping[str, int], shipping_address_id: str) -> Quotation:
        """A quotation for {productCode: quantity}; never repeated on an ambiguous failure."""
        body = {
            "orderItemList": [{"productCode": code, "quantity": quantity} for code, quantity in items.items()],
            "shippingAddressId": shipping_address_id,
        }
        return _model(Quotation, await self._call("createQuotation", json=body))

    async def confirm_order(self, order_id: str) -> Order:
        """Places the order; after an ambiguous failure it is sent again only if the order is still a quotation."""

        async def settle() -> Reply | None:
            try:
                response = await self._call("getOrder", order_id=order_id)
            except NotFound:  # a quotation is not an order yet
                return None
            return None if response.json().get("orderStatus") is None else response

        return _model(Order, await self._call("confirmOrder", settle=settle, order_id=order_id))

    async def list_orders(self) -> list[Order]:
        return _models(Order, (await self._call("listOrders")).json().get("orderList"))

    async def get_order(self, order_id: str) -> Order:
        return _model(Order, await self._call("getOrder", order_id=order_id))

    async def cancel_order(self, order_id: str) -> None:
        await self._call("cancelOrder", order_id=order_id)

    # Subscribers

    async def list_subscribers(
        self,
        *,
        status_filter: str | None = None,
        speed_class_filter: str | None = None,
        serial_number_filter: str | None = None,
        tag_name: str | None = None,
        tag_value: str | None = None,
        tag_value_match_mode: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        last_evaluated_key: str | None = None,
    ) -> Page[Subscriber]:
        """One page; filters as in the spec (status_filter and speed_class_filter take `|`-separated values)."""
        _check_limit(limit)
        response = await self._call("listSubscribers", params={
            "status_filter": status_filter, "speed_class_filter": speed_class_filter,
            "serial_number_filter": serial_number_filter, "tag_name": tag_name, "tag_value": tag_value,
            "tag_value_match_mode": tag_value_match_mode, "limit": limit, "last_evaluated_key": last_evaluated_key,
        })
        return Page(_models(Subscriber, response.json()), response.headers.get(NEXT_KEY_HEADER) or None,
                    _rate_window(response))

    async def subscriber_pages(self, *, pause: Callable[[RateWindow | None, float], float] | None = None,
                               **filters: Any) -> AsyncIterator[Page[dict[str, Any]]]:
        """Every page of listSubscribers, each asked for as soon as the previous answer's cursor is known and sent
        before that answer is parsed or used: the calls follow one another as the cursor requires, with none of
        this client's or the caller's work between them, and one page at most is read ahead. `pause(rate,
        started)` gives the seconds to wait before the next call (SORACOM's rate-limit window, a pace of the
        caller's).

        The SIMs come as SORACOM's JSON objects, not validated as `Subscriber`s: this is for a reader of a few
        fields of every SIM of a fleet (the snapshot), for whom validating 100 models a page cost more than the
        rest of its work on the page; it reads them as untrusted JSON."""
        loop = asyncio.get_running_loop()

        async def call(key: str | None, wait: float) -> tuple[Reply, float]:
            if wait > 0:
                await asyncio.sleep(wait)
            started = loop.time()
            return await self._call("listSubscribers", params={
                **filters, "limit": MAX_PAGE_SIZE, "last_evaluated_key": key}), started

        key: str | None = None
        reading: asyncio.Future[tuple[Reply, float]] | None = asyncio.ensure_future(call(None, 0.0))
        try:
            while reading is not None:
                response, started = await reading
                next_key, rate = response.headers.get(NEXT_KEY_HEADER) or None, _rate_window(response)
                reading = None
                if next_key and next_key != key:
                    key = next_key
                    reading = asyncio.ensure_future(call(key, pause(rate, started) if pause else 0.0))
                    # One turn of the loop runs the call until it waits for its answer, the request written to
                    # the connection: what is done with this page (here and by the caller) overlaps it.
                    await asyncio.sleep(0)
                yield Page(_json_list(response), next_key, rate)
        finally:
            if reading is not None and not reading.done():
                reading.cancel()
                with contextlib.suppress(BaseException):
                    await reading

    async def iter_subscribers(self, **filters: Any) -> AsyncIterator[Subscriber]:
        """Every subscriber matching list_subscribers' filters, page after page."""
        async for item in _iterate(self.list_subscribers, filters):
            yield item

    async def get_subscriber(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("getSubscriber", imsi=imsi))

    async def activate_subscriber(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("activateSubscriber", imsi=imsi))

    async def deactivate_subscriber(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("deactivateSubscriber", imsi=imsi))

    async def set_subscriber_to_standby(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("setSubscriberToStandby", imsi=imsi))

    async def suspend_subscriber(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("suspendSubscriber", imsi=imsi))

    async def terminate_subscriber(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("terminateSubscriber", imsi=imsi))

    async def enable_termination(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("enableTermination", imsi=imsi))

    async def disable_termination(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("disableTermination", imsi=imsi))

    async def set_group(self, imsi: str, group_id: str) -> Subscriber:
        return _model(Subscriber, await self._call("setGroup", json={"groupId": group_id}, imsi=imsi))

    async def unset_group(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("unsetGroup", imsi=imsi))

    async def set_imei_lock(self, imsi: str, imei: str) -> Subscriber:
        return _model(Subscriber, await self._call("setImeiLock", json={"imei": imei}, imsi=imsi))

    async def unset_imei_lock(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("unsetImeiLock", imsi=imsi))

    async def put_subscriber_tags(self, imsi: str, tags: Mapping[str, str]) -> Subscriber:
        body = [{"tagName": name, "tagValue": value} for name, value in tags.items()]
        return _model(Subscriber, await self._call("putSubscriberTags", json=body, imsi=imsi))

    async def delete_subscriber_tag(self, imsi: str, tag_name: str) -> None:
        await self._call("deleteSubscriberTag", imsi=imsi, tag_name=tag_name)

    async def update_speed_class(self, imsi: str, speed_class: str) -> Subscriber:
        return _model(Subscriber, await self._call("updateSpeedClass", json={"speedClass": speed_class}, imsi=imsi))

    async def set_expiry_time(self, imsi: str, expiry_time: int, expiry_action: str | None = None) -> Subscriber:
        """expiry_time in milliseconds since the epoch."""
        body = _body({"expiryTime": expiry_time, "expiryAction": expiry_action})
        return _model(Subscriber, await self._call("setExpiryTime", json=body, imsi=imsi))

    async def get_air_stats(self, imsi: str, from_: int, to: int, period: str = "day") -> list[AirStats]:
        """Traffic between two unix times (seconds), per `month`, `day` or `minutes`."""
        response = await self._call("getAirStats", params={"from": from_, "to": to, "period": period}, imsi=imsi)
        return _models(AirStats, response.json())

    # The device behind a SIM

    async def list_session_events(self, imsi: str, *, from_: int | None = None, to: int | None = None,
                                  limit: int | None = None, last_evaluated_key: str | None = None
                                  ) -> Page[SessionEvent]:
        """Session Created / Modified / Deleted events of the last 32 days (times in milliseconds), newest first."""
        response = await self._call("listSessionEvents", params={
            "from": from_, "to": to, "limit": limit, "last_evaluated_key": last_evaluated_key}, imsi=imsi)
        return Page(_models(SessionEvent, response.json()), response.headers.get(NEXT_KEY_HEADER) or None)

    async def list_sim_status_history(self, sim_id: str, *, from_: int | None = None, to: int | None = None,
                                      sort: str | None = None, limit: int | None = None,
                                      last_evaluated_key: str | None = None) -> Page[SimStatusHistory]:
        if limit is not None:
            _check_limit(limit)
        response = await self._call("listSimStatusHistory", params={
            "from": from_, "to": to, "sort": sort, "limit": limit, "last_evaluated_key": last_evaluated_key},
            sim_id=sim_id)
        return Page(_models(SimStatusHistory, response.json()), response.headers.get(NEXT_KEY_HEADER) or None)

    async def batch_get_cell_locations(self, cells: list[Mapping[str, str]]) -> list[CellLocation]:
        """Where cells are (OpenCelliD): each cell as the API's CellIdentifier, strings; unknown cells are left out."""
        response = await self._call("batchGetCellLocations", json=[dict(cell) for cell in cells])
        return _models(CellLocation, response.json())

    async def send_diagnostic_request(self, sim_id: str, from_: int | None = None,
                                      to: int | None = None) -> Diagnostic:
        body = _body({"service": "Air", "resourceType": "sim", "resourceId": sim_id, "from": from_, "to": to})
        return _model(Diagnostic, await self._call("sendDiagnosticRequest", json=body))

    async def get_diagnostic(self, diagnostic_id: str) -> Diagnostic:
        return _model(Diagnostic, await self._call("getDiagnostic", diagnostic_id=diagnostic_id))

    async def subscriber_downlink_ping_to_user_equipment(self, imsi: str, number_of_ping_requests: int = 1,
                                                         timeout_seconds: int = 1) -> DownlinkPing:
        body = {"numberOfPingRequests": number_of_ping_requests, "timeoutSeconds": timeout_seconds}
        return _model(DownlinkPing, await self._call("subscriberDownlinkPingToUserEquipment", json=body, imsi=imsi))

    async def delete_subscriber_session(self, imsi: str) -> Subscriber:
        return _model(Subscriber, await self._call("deleteSubscriberSession", imsi=imsi))

    async def send_sms(self, imsi: str, payload: str, encoding_type: int) -> SmsForwardingReport:
        body = {"encodingType": encoding_type, "payload": payload}
        return _model(SmsForwardingReport, await self._call("sendSms", json=body, imsi=imsi))

    # Groups

    async def create_group(self, tags: Mapping[str, str] | None = None,
                           configuration: Mapping[str, Mapping[str, Any]] | None = None) -> Group:
        body = _body({"tags": dict(tags) if tags else None,
                      "configuration": dict(configuration) if configuration else None})
        return _model(Group, await self._call("createGroup", json=body))

    async def list_groups(
        self,
        *,
        tag_name: str | None = None,
        tag_value: str | None = None,
        tag_value_match_mode: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        last_evaluated_key: str | None = None,
    ) -> Page[Group]:
        _check_limit(limit)
        response = await self._call("listGroups", params={
            "tag_name": tag_name, "tag_value": tag_value, "tag_value_match_mode": tag_value_match_mode,
            "limit": limit, "last_evaluated_key": last_evaluated_key,
        })
        return Page(_models(Group, response.json()), response.headers.get(NEXT_KEY_HEADER) or None)

    async def iter_groups(self, **filters: Any) -> AsyncIterator[Group]:
        async for item in _iterate(self.list_groups, filters):
            yield item

    async def get_group(self, group_id: str) -> Group:
        return _model(Group, await self._call("getGroup", group_id=group_id))

    async def delete_group(self, group_id: str) -> None:
        await self._call("deleteGroup", group_id=group_id)

    async def put_configuration_parameters(self, group_id: str, namespace: str,
                                           parameters: Mapping[str, Any]) -> Group:
        """Sets {key: value} in one namespace (e.g. SoracomAir); values keep their JSON types."""
        body = [{"key": key, "value": value} for key, value in parameters.items()]
        response = await self._call("putConfigurationParameters", json=body, group_id=group_id, namespace=namespace)
        return _model(Group, response)

    async def delete_configuration_parameter(self, group_id: str, namespace: str, name: str) -> None:
        await self._call("deleteConfigurationParameter", group_id=group_id, namespace=namespace, name=name)

    async def put_group_tags(self, group_id: str, tags: Mapping[str, str]) -> Group:
        body = [{"tagName": name, "tagValue": value} for name, value in tags.items()]
        return _model(Group, await self._call("putGroupTags", json=body, group_id=group_id))

    async def list_subscribers_in_group(self, group_id: str, *, limit: int = MAX_PAGE_SIZE,
                                        last_evaluated_key: str | None = None) -> Page[Sim]:
        """The group's SIMs; last_evaluated_key is the IMSI of the previous page's last SIM."""
        _check_limit(limit)
        response = await self._call("listSubscribersInGroup", group_id=group_id,
                                    params={"limit": limit, "last_evaluated_key": last_evaluated_key})
        return Page(_models(Sim, response.json()), response.headers.get(NEXT_KEY_HEADER) or None)

    async def iter_subscribers_in_group(self, group_id: str, *, limit: int = MAX_PAGE_SIZE) -> AsyncIterator[Sim]:
        async for item in _iterate(self.list_subscribers_in_group, {"limit": limit}, group_id):
            yield item

    # Event Handler

    async def list_event_handlers(self, target: str | None = None) -> list[EventHandler]:
        return _models(EventHandler, (await self._call("listEventHandlers", params={"target": target})).json())

    async def create_event_handler(self, handler: Mapping[str, Any]) -> EventHandler:
        return _model(EventHandler, await self._call("createEventHandler", json=dict(handler)))

    async def update_event_handler(self, handler_id: str, handler: Mapping[str, Any]) -> None:
        await self._call("updateEventHandler", json=dict(handler), handler_id=handler_id)

    async def delete_event_handler(self, handler_id: str) -> None:
        await self._call("deleteEventHandler", handler_id=handler_id)

    # Napter On-Demand Remote Access

    async def create_port_mapping(self, imsi: str, port: int, *, duration_seconds: float, ip_ranges: list[str],
                                  tls_required: bool) -> PortMapping:
        body = {"destination": {"imsi": imsi, "port": port}, "duration": duration_seconds,
                "source": {"ipRanges": list(ip_ranges)}, "tlsRequired": tls_required}
        return _model(PortMapping, await self._call("createPortMapping", json=body))

    async def list_port_mappings(self) -> list[PortMapping]:
        """Every open remote access of the operator, all pages."""
        found: list[PortMapping] = []
        key: str | None = None
        while True:
            response = await self._call("listPortMappings", params={"last_evaluated_key": key})
            found.extend(_models(PortMapping, response.json()))
            following = response.headers.get("x-soracom-next-key")
            if not following or following == key:
                return found
            key = following

    async def list_port_mappings_for_subscriber(self, imsi: str) -> list[PortMapping]:
        try:
            response = await self._call("listPortMappingsForSubscriber", imsi=imsi)
        except NotFound as exc:
            if exc.code and exc.code.startswith("SEM"):
                raise
            return []  # the spec's 404: none for this IMSI
        return _models(PortMapping, response.json())

    async def delete_port_mapping(self, ip_address: str, port: int) -> bool:
        """False when there was none (it had expired, or was deleted already)."""
        try:
            await self._call("deletePortMapping", ip_address=ip_address, port=str(port))
        except NotFound:
            return False
        return True

    # Billing

    async def get_billing_history(self) -> list[Bill]:
        return _models(Bill, (await self._call("getBillingHistory")).json().get("billList"))

    async def get_latest_billing(self) -> LatestBill:
        return _model(LatestBill, await self._call("getLatestBilling"))

    async def get_billing(self, year_month: str) -> Bill:
        return _model(Bill, await self._call("getBilling", yyyyMM=year_month))

    async def get_billing_per_day(self, year_month: str) -> list[DailyBill]:
        return _models(DailyBill, (await self._call("getBillingPerDay", yyyyMM=year_month)).json().get("billList"))

    async def export_billing(self, year_month: str, export_mode: str = "sync", *,
                             poll_interval: float = 2.0, max_polls: int = 60) -> BillExport:
        """The URL of the month's CSV; in `async` mode, polls getExportedFile until the file is ready."""
        response = await self._call("exportBilling", params={"export_mode": export_mode}, yyyyMM=year_month)
        export = _model(BillExport, response)
        if export.url or not export.exportedFileId:
            return export
        for _ in range(max_polls):
            exported = await self.get_exported_file(export.exportedFileId)
            if exported.status == "exported":
                return export.model_copy(update={"url": exported.url})
            if exported.status == "failed":
                raise SoracomError(0, None, f"billing export {export.exportedFileId} failed")
            await self._sleep(poll_interval)
        raise SoracomError(0, None, f"billing export {export.exportedFileId} not ready after {max_polls} polls")

    async def get_exported_file(self, exported_file_id: str) -> ExportedFile:
        return _model(ExportedFile, await self._call("getExportedFile", exported_file_id=exported_file_id))

    async def get_billing_summary_of_bill_items(self) -> list[BillItemSummary]:
        return _models(BillItemSummary, (await self._call("getBillingSummaryOfBillItems")).json())

    async def get_billing_summary_of_sims(self) -> list[SimBillSummary]:
        return _models(SimBillSummary, (await self._call("getBillingSummaryOfSims")).json())


async def _iterate(list_page: Callable[..., Awaitable[Page[Any]]], filters: Mapping[str, Any],
                   *args: Any) -> AsyncIterator[Any]:
    """Follows x-soracom-next-key from page to page."""
    key: str | None = None
    while True:
        page = await list_page(*args, **filters, last_evaluated_key=key)
        for item in page.items:
            yield item
        if not page.next_key or page.next_key == key:
            return
        key = page.next_key
