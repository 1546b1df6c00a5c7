"""Every SoracomClient method against the embedded emulator, checked on what the emulator holds afterwards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest

from bot.config import Settings
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
from bot.services.targets import as_subscriber
from bot.soracom import (
    AuthFailed,
    AuthKeyCredentials,
    NotFound,
    PermissionDenied,
    RootCredentials,
    SamCredentials,
    SoracomClient,
    SoracomError,
)
from bot.runtime import client_from_settings
from bot.soracom.credentials import Credentials
from bot.soracom.models import PayerInformation
from tests.clock import Clock

ENDPOINT = "http://soracom-emulator.localhost"
ACTIVE_KM1 = "440100000000001"  # sensor-01, active, in the seed group
INACTIVE = "440100000000005"
READY = "440100000000006"
SUSPENDED = "440100000000008"
TERMINATED = "440100000000009"


async def no_wait(seconds: float) -> None:
    return None


def connect(state: EmulatorState, credentials: Credentials | None = None) -> SoracomClient:
    return SoracomClient(
        endpoint=ENDPOINT,
        credentials=credentials or AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
        transport=httpx.ASGITransport(app=create_app(state)),
        sleep=no_wait,
    )


@pytest.fixture
def state(clock: Clock) -> EmulatorState:
    return EmulatorState(now=clock)


@pytest.fixture
async def client(state: EmulatorState) -> AsyncIterator[SoracomClient]:
    async with connect(state) as client:
        yield client


def calls(state: EmulatorState, operation_id: str) -> list:
    return [r for r in state.requests if r.operation_id == operation_id]


# Auth and the operator account


async def test_auth_opens_a_session_in_the_emulator(client, state):
    result = await client.auth()
    assert result.operatorId == DEMO_OPERATOR_ID
    session = state.sessions[result.token]
    assert session.api_key == result.apiKey and session.timeout_seconds == 86400
    assert client.operator_id == DEMO_OPERATOR_ID


async def test_root_credentials_authenticate(state):
    async with connect(state, RootCredentials(DEMO_EMAIL, DEMO_PASSWORD)) as client:
        assert (await client.get_subscriber(ACTIVE_KM1)).imsi == ACTIVE_KM1
    assert calls(state, "auth")[0].json["email"] == DEMO_EMAIL


async def test_wrong_password_is_auth_failed(state):
    async with connect(state, RootCredentials(DEMO_EMAIL, "wrong")) as client:
        with pytest.raises(AuthFailed) as caught:
            await client.list_groups()
    assert caught.value.status == 401
    assert "wrong" not in str(caught.value)


async def test_generate_auth_token_opens_a_new_session_on_the_same_api_key(client, state):
    first = await client.auth()
    second = await client.generate_auth_token()
    assert second.token != first.token and second.apiKey == first.apiKey
    assert state.sessions[second.token].api_key == first.apiKey
    await client.get_subscriber(ACTIVE_KM1)
    assert calls(state, "getSubscriber")[-1].status == 200


async def test_logout_ends_the_session(client, state):
    token = (await client.auth()).token
    await client.logout()
    assert token not in state.sessions
    await client.get_subscriber(ACTIVE_KM1)  # a new session is opened on demand
    assert len(calls(state, "auth")) == 2


async def test_create_and_verify_operator_then_log_in(client, state):
    await client.create_operator("new@example.jp", "a-long-password-1")
    operator = state.operator_by_email("new@example.jp")
    assert operator is not None and operator["verified"] is False
    await client.verify_operator(state.signup_tokens["new@example.jp"])
    assert operator["verified"] is True
    async with connect(state, RootCredentials("new@example.jp", "a-long-password-1")) as newcomer:
        assert (await newcomer.auth()).operatorId == operator["operatorId"]


async def test_verify_operator_with_a_wrong_token(client):
    with pytest.raises(SoracomError) as caught:
        await client.verify_operator("not-a-token")
    assert caught.value.status == 400 and caught.value.code == "COM0006"


async def test_password_reset_changes_the_password(client, state):
    await client.issue_password_reset_token(DEMO_EMAIL)
    token = state.password_reset_tokens[DEMO_EMAIL]
    await client.verify_password_reset_token(token, "a-brand-new-password")
    assert state.operators[DEMO_OPERATOR_ID]["password"] == "a-brand-new-password"
    async with connect(state, RootCredentials(DEMO_EMAIL, "a-brand-new-password")) as again:
        assert (await again.auth()).operatorId == DEMO_OPERATOR_ID


async def test_mfa_enable_verify_status_revoke(client, state):
    enabled = await client.enable_mfa()
    secret = state.operator_mfa[DEMO_OPERATOR_ID]["secret"]
    assert enabled.totpUri and secret in enabled.totpUri
    verified = await client.verify_mfa(pyotp.TOTP(secret).at(state.now()))
    assert verified.backupCodes and len(verified.backupCodes) >= 1
    assert state.operator_mfa[DEMO_OPERATOR_ID]["status"] == "ACTIVE"
    assert (await client.get_mfa_status()).status == "ACTIVE"
    await client.revoke_mfa(DEMO_PASSWORD)
    assert state.operator_mfa[DEMO_OPERATOR_ID]["status"] != "ACTIVE"
    assert calls(state, "enableMFA")[0].path == f"/v1/operators/{DEMO_OPERATOR_ID}/mfa"


# SAM users


async def test_sam_user_with_a_permission_and_its_own_auth_key(client, state):
    await client.create_user("slackbot", description="the Slack bot")
    assert state.users["slackbot"]["description"] == "the Slack bot"
    policy = {"statements": [{"effect": "allow", "api": ["Subscriber:getSubscriber"]}]}
    await client.update_user_permission("slackbot", policy)
    assert json.loads(state.users["slackbot"]["permission"]) == policy
    key = await client.generate_user_auth_key("slackbot")
    assert key.authKeyId in state.users["slackbot"]["authKeys"]
    assert key.authKey not in repr(key)
    async with connect(state, AuthKeyCredentials(key.authKeyId, key.authKey)) as bot:
        assert (await bot.get_subscriber(ACTIVE_KM1)).imsi == ACTIVE_KM1
        with pytest.raises(PermissionDenied) as caught:
            await bot.terminate_subscriber(ACTIVE_KM1)
    assert caught.value.status == 403
    assert state.subscribers[ACTIVE_KM1]["status"] == "active"
    assert len([r for r in calls(state, "auth") if r.json.get("authKeyId") == key.authKeyId]) == 1


async def test_sam_user_password_login(client, state):
    state.add_user("operator-jane", password="jane-password-123",
                   permission=json.dumps({"statements": [{"effect": "allow", "api": ["Group:listGroups"]}]}))
    async with connect(state, SamCredentials(DEMO_OPERATOR_ID, "operator-jane", "jane-password-123")) as jane:
        result = await jane.auth()
        assert result.userName == "operator-jane"
        assert len((await jane.list_groups()).items) == len(state.groups)


# Payer information and shipping addresses


async def test_payer_information_round_trip(client, state):
    info = PayerInformation(companyName="Example KK", department="IoT", fullName="Hanako Sato")
    await client.register_payer_information(info)
    assert state.payer_information == {"companyName": "Example KK", "department": "IoT", "fullName": "Hanako Sato"}
    assert await client.get_payer_information() == info


async def test_shipping_addresses(client, state):
    listed = await client.list_shipping_addresses()
    assert SEED_SHIPPING_ADDRESS_ID in [a.shippingAddressId for a in listed]
    created = await client.create_shipping_address({
        "zipCode": "530-0001", "state": "大阪府", "city": "大阪市北区", "addressLine1": "梅田 1-1-1",
        "fullName": "佐藤花子", "phoneNumber": "06-0000-0000",
    })
    assert created.shippingAddressId in state.shipping_addresses and created.shippingArea == "kansai"
    fetched = await client.get_shipping_address(created.shippingAddressId)
    assert fetched.city == "大阪市北区"
    await client.delete_shipping_address(created.shippingAddressId)
    assert created.shippingAddressId not in state.shipping_addresses
    with pytest.raises(NotFound):
        await client.get_shipping_address(created.shippingAddressId)


# Orders


async def test_quotation_confirm_and_list(client, state):
    products = await client.list_products()
    assert PLAN_KM1_PRODUCT_CODE in [p.productCode for p in products.productList or []]
    quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 2}, SEED_SHIPPING_ADDRESS_ID)
    assert quotation.orderId in state.orders
    assert quotation.orderItemList and quotation.orderItemList[0].quantity == 2
    assert quotation.orderItemList[0].productAmount == 3000
    assert quotation.totalAmount == state.orders[quotation.orderId]["totalAmount"]
    order = await client.confirm_order(quotation.orderId)
    assert order.orderStatus == state.orders[quotation.orderId]["orderStatus"] == "orderProcessing"
    assert quotation.orderId in [o.orderId for o in await client.list_orders()]
    assert (await client.get_order(quotation.orderId)).orderStatus == "orderProcessing"


async def test_cancel_order(client, state):
    quotation = await client.create_quotation({PLAN_KM1_PRODUCT_CODE: 1}, SEED_SHIPPING_ADDRESS_ID)
    await client.confirm_order(quotation.orderId)
    await client.cancel_order(quotation.orderId)
    assert state.orders[quotation.orderId]["orderStatus"] in ("cancelling", "cancelled")


async def test_unknown_order_is_not_found(client):
    with pytest.raises(NotFound):
        await client.get_order("20990101000000_00000000")


# Subscribers


async def test_list_subscribers_filters_by_status(client, state):
    page = await client.list_subscribers(status_filter="active")
    expected = sorted(i for i, s in state.subscribers.items() if s["status"] == "active")
    assert [s.imsi for s in page.items] == expected and page.next_key is None


async def test_iter_subscribers_by_tag_and_speed_class(client, state):
    state.add_subscribers(5, tags={"site": "osaka"}, speedClass="s1.fast")
    found = [s async for s in client.iter_subscribers(tag_name="site", tag_value="osaka",
                                                      speed_class_filter="s1.fast", limit=2)]
    expected = sorted(i for i, s in state.subscribers.items() if s["tags"].get("site") == "osaka")
    assert [s.imsi for s in found] == expected and len(expected) == 5
    assert len(calls(state, "listSubscribers")) == 3


async def test_get_subscriber_is_typed(client, state):
    sub = await client.get_subscriber(ACTIVE_KM1)
    assert sub.status == "active" and sub.subscription == "plan-KM1"
    assert sub.groupId == state.subscribers[ACTIVE_KM1]["groupId"]
    assert sub.sessionStatus is None or isinstance(sub.sessionStatus.online, bool)


async def test_unknown_subscriber_is_not_found(client):
    with pytest.raises(NotFound) as caught:
        await client.get_subscriber("440109999999999")
    assert caught.value.code == "SEM0001" and "440109999999999" in caught.value.message


async def test_lifecycle_changes_reach_the_emulator(client, state):
    assert (await client.activate_subscriber(INACTIVE)).status == "active"
    assert state.subscribers[INACTIVE]["status"] == "active"
    await client.deactivate_subscriber(INACTIVE)
    assert state.subscribers[INACTIVE]["status"] == "inactive"
    await client.set_subscriber_to_standby(READY)
    assert state.subscribers[READY]["status"] == "standby"
    await client.suspend_subscriber(INACTIVE)
    assert state.subscribers[INACTIVE]["status"] == "suspended"


async def test_termination_protection_and_terminate(client, state):
    await client.disable_termination(ACTIVE_KM1)
    assert state.subscribers[ACTIVE_KM1]["terminationEnabled"] is False
    with pytest.raises(SoracomError):
        await client.terminate_subscriber(ACTIVE_KM1)
    assert state.subscribers[ACTIVE_KM1]["status"] == "active"
    await client.enable_termination(ACTIVE_KM1)
    assert state.subscribers[ACTIVE_KM1]["terminationEnabled"] is True
    assert (await client.terminate_subscriber(ACTIVE_KM1)).status == "terminated"
    assert state.subscribers[ACTIVE_KM1]["status"] == "terminated"


async def test_terminated_subscriber_cannot_be_activated(client, state):
    with pytest.raises(SoracomError) as caught:
        await client.activate_subscriber(TERMINATED)
    assert caught.value.status == 400
    assert state.subscribers[TERMINATED]["status"] == "terminated"
    assert len(calls(state, "activateSubscriber")) == 1


async def test_group_membership(client, state):
    await client.set_group(INACTIVE, SEED_GROUP_ID)
    assert state.subscribers[INACTIVE]["groupId"] == SEED_GROUP_ID
    assert (await client.unset_group(INACTIVE)).groupId is None
    assert state.subscribers[INACTIVE]["groupId"] is None


async def test_imei_lock(client, state):
    sub = await client.set_imei_lock(ACTIVE_KM1, "350000000000001")
    assert sub.imeiLock is not None and sub.imeiLock.imei == "350000000000001"
    assert state.subscribers[ACTIVE_KM1]["imeiLock"] == {"imei": "350000000000001"}
    await client.unset_imei_lock(ACTIVE_KM1)
    assert not state.subscribers[ACTIVE_KM1]["imeiLock"]


async def test_tags(client, state):
    sub = await client.put_subscriber_tags(ACTIVE_KM1, {"site": "tokyo", "owner": "ops"})
    assert sub.tags and sub.tags["site"] == "tokyo"
    assert state.subscribers[ACTIVE_KM1]["tags"]["owner"] == "ops"
    await client.delete_subscriber_tag(ACTIVE_KM1, "owner")
    assert "owner" not in state.subscribers[ACTIVE_KM1]["tags"]
    assert state.subscribers[ACTIVE_KM1]["tags"]["site"] == "tokyo"


async def test_tag_name_with_a_slash_is_escaped_in_the_path(client, state):
    await client.put_subscriber_tags(ACTIVE_KM1, {"a/b": "1"})
    await client.delete_subscriber_tag(ACTIVE_KM1, "a/b")
    assert "a/b" not in state.subscribers[ACTIVE_KM1]["tags"]


async def test_speed_class(client, state):
    await client.update_speed_class(INACTIVE, "s1.4xfast")
    assert state.subscribers[INACTIVE]["speedClass"] == "s1.4xfast"


async def test_expiry_time(client, state):
    expiry = state.now_ms() + 86_400_000
    sub = await client.set_expiry_time(ACTIVE_KM1, expiry, "suspend")
    assert sub.expiryTime == expiry
    assert state.subscribers[ACTIVE_KM1]["expiryTime"] == expiry
    assert state.subscribers[ACTIVE_KM1]["expiryAction"] == "suspend"


async def test_air_stats_per_day_add_up_the_recorded_traffic(client, state):
    day = 86400
    start = int(state.now().timestamp()) // day * day - 10 * day  # a UTC midnight, ten days back
    end = start + 10 * day + day - 1
    stats = await client.get_air_stats(ACTIVE_KM1, start, end, "day")
    samples = {t: v for t, v in state.air_stats[ACTIVE_KM1].items() if start <= t <= end}
    assert samples and len(stats) == len({t // day for t in samples})
    total = sum(s.downloadByteSizeTotal or 0 for b in stats for s in (b.dataTrafficStatsMap or {}).values())
    assert total == sum(v["downloadByteSizeTotal"] for by_class in samples.values() for v in by_class.values())


# Groups


async def test_create_get_delete_group(client, state):
    group = await client.create_group({"name": "CustomerManagement"})
    assert state.groups[group.groupId]["tags"] == {"name": "CustomerManagement"}
    assert (await client.get_group(group.groupId)).tags == {"name": "CustomerManagement"}
    await client.delete_group(group.groupId)
    assert group.groupId not in state.groups
    with pytest.raises(NotFound):
        await client.get_group(group.groupId)


async def test_list_and_iter_groups(client, state):
    for n in range(3):
        await client.create_group({"name": f"fleet-{n}", "kind": "fleet"})
    page = await client.list_groups(tag_name="kind", tag_value="fleet")
    assert sorted(g.tags["name"] for g in page.items) == ["fleet-0", "fleet-1", "fleet-2"]
    everything = [g.groupId async for g in client.iter_groups(limit=2)]
    assert sorted(everything) == sorted(state.groups)


async def test_configuration_keeps_real_json_types(client, state):
    group = await client.put_configuration_parameters(SEED_GROUP_ID, "SoracomAir",
                                                      {"binaryParserEnabled": False, "metaDataLimit": 3})
    stored = state.groups[SEED_GROUP_ID]["configuration"]["SoracomAir"]
    assert stored["binaryParserEnabled"] is False and stored["metaDataLimit"] == 3
    assert group.configuration and group.configuration["SoracomAir"]["binaryParserEnabled"] is False
    await client.put_configuration_parameters(SEED_GROUP_ID, "UnifiedEndpoint",
                                              {"response": {"format": "SoracomHarvest"}, "enabled": True})
    assert state.groups[SEED_GROUP_ID]["configuration"]["UnifiedEndpoint"] == {
        "response": {"format": "SoracomHarvest"}, "enabled": True}
    await client.delete_configuration_parameter(SEED_GROUP_ID, "SoracomAir", "metaDataLimit")
    assert "metaDataLimit" not in state.groups[SEED_GROUP_ID]["configuration"]["SoracomAir"]


async def test_group_tags(client, state):
    group = await client.put_group_tags(SEED_GROUP_ID, {"owner": "ops"})
    assert group.tags and group.tags["owner"] == "ops"
    assert state.groups[SEED_GROUP_ID]["tags"]["owner"] == "ops"


async def test_subscribers_in_group_are_sims(client, state):
    members = sorted(i for i, s in state.subscribers.items() if s["groupId"] == SEED_GROUP_ID)
    page = await client.list_subscribers_in_group(SEED_GROUP_ID)
    assert [sim.primary_imsi for sim in page.items] == members and members
    for sim in page.items:
        held = state.subscribers[sim.primary_imsi]
        assert (sim.simId, sim.type, sim.imsis) == (held["iccid"], "uicc", [held["imsi"]])
        assert (sim.status, sim.speedClass, sim.groupId, sim.name) == (
            held["status"], held["speedClass"], SEED_GROUP_ID, held["tags"]["name"])
        assert sim.primary_subscriber and sim.primary_subscriber.msisdn == held["msisdn"]
    paged = [sim.primary_imsi async for sim in client.iter_subscribers_in_group(SEED_GROUP_ID, limit=1)]
    assert paged == members


async def test_group_members_read_as_their_subscribers(client, state):
    """What /sim list shows of a group: the same fields as getSubscriber gives, from the Sims alone."""
    state.subscribers["440100000000002"]["imeiLock"] = {"imei": "350000000000001"}
    for sim in (await client.list_subscribers_in_group(SEED_GROUP_ID)).items:
        seen, full = as_subscriber(sim), await client.get_subscriber(sim.primary_imsi or "")
        fields = {"imsi", "msisdn", "status", "speedClass", "groupId", "tags", "imeiLock", "terminationEnabled",
                  "subscription", "moduleType", "serialNumber"}
        assert seen.model_dump(include=fields) == full.model_dump(include=fields)
        # The Sim's session also names its IMSI and subscription; the rest is the subscriber's session.
        session = {"online", "imei", "ueIpAddress", "lastUpdatedAt"}
        assert seen.sessionStatus and full.sessionStatus
        assert seen.sessionStatus.model_dump(include=session) == full.sessionStatus.model_dump(include=session)
        assert seen.sessionStatus.imsi == sim.primary_imsi


# Billing


async def test_bills(client, state):
    history = await client.get_billing_history()
    assert {"201907", "201908", "201909"} <= {b.yearMonth for b in history}
    august = await client.get_billing("201908")
    assert august.amount == 13203 and august.state == "closed"
    latest = await client.get_latest_billing()
    assert latest.amount is not None and latest.currency == "JPY"
    with pytest.raises(NotFound):
        await client.get_billing("199901")


async def test_daily_bills_add_up_to_the_month(client, state):
    days = await client.get_billing_per_day("201908")
    assert days and all(d.date and d.date.startswith("201908") for d in days)
    assert sum(d.amount or 0 for d in days) == pytest.approx(13203, abs=1)


async def test_export_billing_sync_and_async(client, state):
    exported = await client.export_billing("201908")
    assert exported.url and "201908" in exported.url
    polled = await client.export_billing("201908", export_mode="async")
    assert polled.url and polled.exportedFileId in state.exports
    assert calls(state, "getExportedFile")


async def test_billing_summaries(client, state):
    items = await client.get_billing_summary_of_bill_items()
    assert items and items[0].costBreakdownList
    sims = await client.get_billing_summary_of_sims()
    assert sims and all(c.simId for c in sims[0].costBreakdownList or [])


# Configuration


async def test_client_from_settings_uses_the_demo_key_on_the_emulator(state, tmp_path):
    settings = Settings(_env_file=None, SORACOM_ENDPOINT=ENDPOINT, SORACOM_LANG="ja",
                        BOT_DATA_DIR=str(tmp_path))  # type: ignore[call-arg]
    assert settings.uses_emulator
    async with client_from_settings(settings, transport=httpx.ASGITransport(app=create_app(state))) as client:
        await client.get_subscriber(ACTIVE_KM1)
    auth = calls(state, "auth")[0]
    assert auth.json["authKeyId"] == DEMO_AUTH_KEY_ID


async def test_client_from_settings_prefers_the_auth_key(state):
    settings = Settings(_env_file=None, SORACOM_AUTH_KEY_ID="keyId-x", SORACOM_AUTH_KEY="secret-x",
                        SORACOM_EMAIL="a@example.jp", SORACOM_PASSWORD="pw",
                        SORACOM_COVERAGE="g")  # type: ignore[call-arg]
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(401, json={"code": "AUM0004", "message": "Authentication failed."})

    async with client_from_settings(settings, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthFailed):
            await client.list_groups()
    assert str(requests[0].url) == "https://g.api.soracom.io/v1/auth"
    assert json.loads(requests[0].content)["authKeyId"] == "keyId-x"
