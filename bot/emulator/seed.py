"""Demo data the emulator starts with: one operator, ~25 SIMs, two groups, products, an address, bills, traffic.

Everything is deterministic; values that name the seed transcript's records keep the transcript's figures.
"""

from __future__ import annotations

import copy
import zlib
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

DEMO_OPERATOR_ID = "OP0000000001"
DEMO_EMAIL = "ops@example.jp"
DEMO_PASSWORD = "emulator-demo-password"
# Demo-only credentials of the embedded emulator; they open nothing anywhere else.
DEMO_AUTH_KEY_ID = "keyId-emulatordemo0000000000000000000"
DEMO_AUTH_KEY = "secret-emulatordemo-not-a-real-key-0000000000000000000000000000000"
SEED_GROUP_ID = "7300d51b-8145-44f6-b644-335ccf41834d"
FIELD_GROUP_ID = "2f1c6c1e-4b1d-4a47-9d4b-1f3e8a0c6d52"
SEED_SHIPPING_ADDRESS_ID = "c300add2-9844-4ab4-a1a6-30145340d856"
PLAN_KM1_PRODUCT_CODE = "4573326590273"
MODEM_PRODUCT_CODE = "4589904880031"
SEED_IMSI_PREFIX = "44010"
SEED_SIM_COUNT = 25

_SIM_CREATED_AT = 1563786879213  # the transcript's SIM 440100000000001
_SIM_MODIFIED_AT = 1567674492668
_DNS_SERVERS = ["100.127.0.53", "100.127.1.53"]

PLAN_KM1_PRODUCT: dict[str, Any] = {
    "productCode": PLAN_KM1_PRODUCT_CODE,
    "productName": "SORACOM Air SIM card  plan-KM1  size:Nano(for data) 1 SIM pack1",
    "description": "This type of SIM provides cellular LPWA (LTE Cat. M1) connectivity. NOTE: Please be aware that "
                   "communications charges for this type of service are significantly higher than for normal service. "
                   "Cannot be used with regular LTE devices.",
    "count": 1,
    "price": 1500,
    "currency": "JPY",
    "properties": {"contractType": "no_sms", "simSubscription": "plan-KM1", "simSize": "nano"},
    "productType": "sim",
    "productInfoURL": "https://soracom.jp/products/sim/plan-km1/",
    "productImageURLs": [],
}

MODEM_PRODUCT: dict[str, Any] = {
    "productCode": MODEM_PRODUCT_CODE,
    "productName": "USB LTE modem (emulator demo item)",
    "description": "A USB data communication terminal for Cat.1 LTE networks. Demo product of the emulator.",
    "count": 1,
    "price": 9800,
    "currency": "JPY",
    "properties": {},
    "productType": "network_module",
    "productInfoURL": "https://soracom.jp/store/",
    "productImageURLs": [],
}

SEED_SHIPPING_ADDRESS: dict[str, Any] = {
    "countryCode": "JP",
    "zipCode": "141-0022",
    "state": "東京都",
    "city": "品川区",
    "addressLine1": "東五反田 1-2-3",
    "addressLine2": "",
    "building": "サンプルビル 8階",
    "companyName": "株式会社サンプル",
    "department": "IoT Platform",
    "fullName": "山田太郎",
    "phoneNumber": "03-0000-0000",
    "shippingAddressId": SEED_SHIPPING_ADDRESS_ID,
    "shippingArea": "kanto",
}

SEED_PAYER_INFORMATION = {"companyName": "株式会社サンプル", "department": "IoT Platform", "fullName": "山田太郎"}

# The transcript's months; 201908 is recorded verbatim.
SEED_BILLS: dict[str, dict[str, Any]] = {
    "201907": {"amount": 12480, "paymentTransactionId": "20190803033520114_5b0e2d1c-7a43-4f0e-9c1d-2f6b8e4a7c10"},
    "201908": {"amount": 13203, "paymentTransactionId": "20190903033613626_84ed364c-de87-4c0f-b12a-435f0c23c59b"},
    "201909": {"amount": 14016, "paymentTransactionId": "20191003034102871_c1f4a0b2-93d5-4e61-8a7f-0d3b5c2e9f47"},
}
RECENT_BILL_MONTHS = 13

# (name, status, subscription, speedClass, group, terminationEnabled, online, moduleType)
_SEED_SIMS: list[tuple[str, str, str, str, str | None, bool, bool, str]] = [
    ("sensor-01", "active", "plan-KM1", "t1.standard", SEED_GROUP_ID, False, False, "nano"),
    ("sensor-02", "active", "plan01s", "s1.standard", SEED_GROUP_ID, False, True, "nano"),
    ("sensor-03", "active", "plan01s", "s1.fast", SEED_GROUP_ID, False, True, "micro"),
    ("sensor-04", "active", "plan01s", "s1.standard", FIELD_GROUP_ID, False, True, "nano"),
    ("sensor-05", "inactive", "plan01s", "s1.slow", None, False, False, "nano"),
    ("sensor-06", "ready", "plan01s", "s1.standard", None, False, False, "trio"),
    ("sensor-07", "standby", "plan01s", "s1.standard", None, False, False, "trio"),
    ("sensor-08", "suspended", "plan01s", "s1.minimum", None, True, False, "nano"),
    ("sensor-09", "terminated", "plan01s", "s1.standard", None, True, False, "nano"),
    ("gateway", "active", "plan-DU", "u1.standard", FIELD_GROUP_ID, False, True, "mini"),
    ("gateway", "inactive", "plan-DU", "u1.slow", None, False, False, "mini"),
    ("tracker-01", "active", "plan-D", "s1.4xfast", FIELD_GROUP_ID, True, True, "embedded"),
    ("tracker-02", "active", "plan-D", "s1.standard", None, True, False, "embedded"),
    ("meter-01", "active", "plan-K2", "s1.standard", None, False, True, "nano"),
    ("meter-02", "active", "plan-K2", "s1.standard", None, False, False, "nano"),
    ("meter-03", "inactive", "plan-K2", "s1.slow", None, True, False, "nano"),
    ("camera-01", "active", "plan01s", "s1.fast", None, False, True, "nano"),
    ("camera-02", "active", "plan01s", "s1.4xfast", None, False, False, "nano"),
    ("vending-01", "active", "plan01s", "s1.standard", None, False, True, "trio"),
    ("vending-02", "suspended", "plan01s", "s1.standard", None, False, False, "trio"),
    ("spare-01", "ready", "plan01s", "s1.standard", None, False, False, "trio"),
    ("spare-02", "ready", "plan-KM1", "t1.standard", None, False, False, "nano"),
    ("spare-03", "standby", "plan-KM1", "t1.standard", None, False, False, "nano"),
    ("retired-01", "terminated", "plan01s", "s1.standard", None, True, False, "nano"),
    ("lab-01", "active", "plan01s", "s1.standard", None, True, True, "nano"),
]
# Seeded SIMs with a last known location (Simple Location Tracking).
_LOCATIONS = {3: {"lat": 35.6258, "lon": 139.7237}, 12: {"lat": 34.7025, "lon": 135.4959}}

SHIPPING_AREAS: dict[str, tuple[str, ...]] = {
    "hokkaido": ("北海道",),
    "kita_tohoku": ("青森県", "秋田県", "岩手県"),
    "minami_tohoku": ("宮城県", "山形県", "福島県"),
    "kanto": ("茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "山梨県"),
    "shinetsu": ("新潟県", "長野県"),
    "chubu": ("静岡県", "愛知県", "岐阜県", "三重県"),
    "hokuriku": ("富山県", "石川県", "福井県"),
    "kansai": ("滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"),
    "chugoku": ("鳥取県", "島根県", "岡山県", "広島県", "山口県"),
    "shikoku": ("徳島県", "香川県", "愛媛県", "高知県"),
    "kyushu": ("福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県"),
    "okinawa": ("沖縄県",),
}
# JPY per parcel; kanto is the transcript's 907.
SHIPPING_COSTS: dict[str, int] = {
    "hokkaido": 1340, "kita_tohoku": 1015, "minami_tohoku": 907, "kanto": 907, "shinetsu": 907, "chubu": 907,
    "hokuriku": 907, "kansai": 1015, "chugoku": 1124, "shikoku": 1124, "kyushu": 1340, "okinawa": 1814,
}


def stable_int(*parts: object) -> int:
    """A deterministic pseudo-random number from its parts (hash() is salted per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


_S1_CLASSES = ("s1.standard", "s1.minimum", "s1.slow", "s1.fast", "s1.4xfast")


def speed_classes_for(subscription: str) -> tuple[str, ...]:
    """The speed classes a subscription accepts (spec: UpdateSpeedClassRequest); the first is the default."""
    if subscription == "plan-KM1":
        return ("t1.standard",)
    if subscription == "plan-DU":
        return ("u1.standard", "u1.slow")
    if subscription == "plan-US":
        return (*_S1_CLASSES, "s1.8xfast")
    return _S1_CLASSES


def imsi_for(number: int) -> str:
    return f"{SEED_IMSI_PREFIX}{number:010d}"


def new_subscriber(number: int, *, operator_id: str, created_at: int, status: str = "active",
                   subscription: str = "plan01s", speed_class: str | None = None, name: str = "",
                   **fields: Any) -> dict[str, Any]:
    """A subscriber in the API's shape (the seed transcript's fields, in its order); fields override any key."""
    speed = speed_class or speed_classes_for(subscription)[0]
    sub: dict[str, Any] = {
        "imsi": imsi_for(number),
        "msisdn": f"81{number:010d}",
        "ipAddress": None,
        "operatorId": operator_id,
        "apn": "soracom.io",
        "type": speed,
        "groupId": None,
        "createdAt": created_at,
        "lastModifiedAt": created_at,
        "expiredAt": None,
        "registeredTime": None,
        "expiryAction": None,
        "terminationEnabled": False,
        "status": status,
        "tags": {"name": name} if name else {},
        "sessionStatus": None,
        "imeiLock": None,
        "speedClass": speed,
        "moduleType": "nano",
        "plan": 0,
        "iccid": f"89811{number:013d}1",
        "serialNumber": f"89811{number:013d}1",
        "subscription": subscription,
        "createdTime": created_at,
        "expiryTime": None,
        "lastModifiedTime": created_at,
    }
    sub.update(fields)
    for alias, key in (("createdTime", "createdAt"), ("lastModifiedTime", "lastModifiedAt")):
        sub[alias] = sub[key]
    return sub


def session_status(number: int, now_ms: int, *, online: bool) -> dict[str, Any]:
    return {
        "lastUpdatedAt": now_ms - (number * 7 % 50 + 1) * 60_000,
        "imei": f"35{number:013d}" if online else None,
        "location": _LOCATIONS.get(number) if online else None,
        "ueIpAddress": f"10.{134 + number % 3}.{number * 13 % 256}.{number * 29 % 254 + 1}" if online else None,
        "dnsServers": list(_DNS_SERVERS) if online else None,
        "online": online,
    }


def seed_subscribers(state: "EmulatorState") -> None:
    now_ms = state.now_ms()
    for number, (name, status, plan, speed, group, termination, online, module) in enumerate(_SEED_SIMS, start=1):
        created = _SIM_CREATED_AT + (number - 1) * 86_400_000
        sub = new_subscriber(number, operator_id=DEMO_OPERATOR_ID, created_at=created, status=status,
                             subscription=plan, speed_class=speed, name=name, groupId=group,
                             terminationEnabled=termination, moduleType=module,
                             lastModifiedAt=_SIM_MODIFIED_AT + (number - 1) * 3_600_000,
                             plan=1 if plan == "plan01s" and number % 4 == 0 else 0)
        if status not in ("ready", "standby"):
            sub["ipAddress"] = f"10.{134 + number % 3}.{number * 13 % 256}.{number * 29 % 254 + 1}"
            sub["sessionStatus"] = session_status(number, now_ms, online=online and status == "active")
        if number == 1:
            sub["sessionStatus"] = {"lastUpdatedAt": 1567684521983, "imei": None, "location": None,
                                    "ueIpAddress": None, "dnsServers": None, "online": False}
        state.subscribers[sub["imsi"]] = sub
    state.billing_imsis = [imsi for imsi, sub in state.subscribers.items() if sub["status"] not in ("ready", "standby")]


def seed_groups(state: "EmulatorState") -> None:
    seed_group_time = 1567673660892
    field_group_time = 1568012345678
    state.groups[SEED_GROUP_ID] = {
        "operatorId": DEMO_OPERATOR_ID, "groupId": SEED_GROUP_ID,
        "createdAt": seed_group_time, "lastModifiedAt": seed_group_time,
        "configuration": {}, "tags": {"name": "CustomerManagement"},
        "createdTime": seed_group_time, "lastModifiedTime": seed_group_time,
    }
    state.groups[FIELD_GROUP_ID] = {
        "operatorId": DEMO_OPERATOR_ID, "groupId": FIELD_GROUP_ID,
        "createdAt": field_group_time, "lastModifiedAt": field_group_time,
        "configuration": {"SoracomAir": {"metadata": {"enabled": True, "readonly": True}}},
        "tags": {"name": "FieldTest"},
        "createdTime": field_group_time, "lastModifiedTime": field_group_time,
    }


# SORACOM's Japan coverage closes its days and months in Japan time: 00:30 JST on the 1st is already the new month.
BILLING_ZONE = ZoneInfo("Asia/Tokyo")


def billing_day(moment: datetime) -> str:
    return moment.astimezone(BILLING_ZONE).strftime("%Y%m%d")


def month_key(moment: datetime) -> str:
    return billing_day(moment)[:6]


def previous_month(year_month: str) -> str:
    year, month = int(year_month[:4]), int(year_month[4:])
    return f"{year - 1}12" if month == 1 else f"{year}{month - 1:02d}"


def recent_months(now: datetime, count: int) -> list[str]:
    """The current month and the count-1 before it, newest first."""
    months = [month_key(now)]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return months


def months_between(earlier: str, later: str) -> int:
    return (int(later[:4]) - int(earlier[:4])) * 12 + int(later[4:]) - int(earlier[4:])


def monthly_amount(year_month: str) -> int:
    """A month's bill: the transcript's last month growing 0.5 % a month, give or take 4 %."""
    trend = 14016 * 1.005 ** months_between("201909", year_month)
    return round(trend * (0.96 + stable_int("bill", year_month) % 81 / 1000))


def seed_bills(state: "EmulatorState") -> None:
    current = month_key(state.now())
    for year_month, bill in SEED_BILLS.items():
        if year_month >= current:  # a clock set into the transcript's time: that month is still running
            continue
        state.bills[year_month] = {"yearMonth": year_month, "amount": bill["amount"], "currency": "JPY",
                                   "state": "closed", "paymentStatus": "paid",
                                   "paymentTransactionId": bill["paymentTransactionId"]}
    for year_month in recent_months(state.now(), RECENT_BILL_MONTHS):
        if year_month in state.bills:
            continue
        amount = SEED_BILLS[year_month]["amount"] if year_month in SEED_BILLS else monthly_amount(year_month)
        if year_month == current:
            # amount: what the days so far add up to (bills.refresh_running_month keeps it so)
            state.month_estimates[year_month] = amount
            state.bills[year_month] = {"yearMonth": year_month, "amount": 0, "currency": "JPY",
                                       "state": "temporary"}
            continue
        paid_on = _first_day_after(year_month) + timedelta(days=2, hours=3, minutes=36)
        transaction = f"{paid_on.strftime('%Y%m%d%H%M%S')}{stable_int('ms', year_month) % 1000:03d}_{state.new_uuid()}"
        state.bills[year_month] = {"yearMonth": year_month, "amount": amount, "currency": "JPY", "state": "closed",
                                   "paymentStatus": "paid", "paymentTransactionId": transaction}


def _first_day_after(year_month: str) -> datetime:
    year, month = int(year_month[:4]), int(year_month[4:])
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)


def traffic_sample(imsi: str, unixtime: int) -> dict[str, int]:
    up = 2_000 + stable_int("up", imsi, unixtime) % 60_000
    down = 5_000 + stable_int("down", imsi, unixtime) % 250_000
    return {"uploadByteSizeTotal": up, "uploadPacketSizeTotal": up // 120 + 1,
            "downloadByteSizeTotal": down, "downloadPacketSizeTotal": down // 300 + 1}


AIR_SAMPLE_SECONDS = 3 * 3600


def seed_air_stats(state: "EmulatorState") -> None:
    """Traffic every 3 hours for active SIMs, from the start of last month up to now."""
    now = state.now()
    start_month = datetime.strptime(previous_month(month_key(now)), "%Y%m").replace(tzinfo=timezone.utc)
    start = int(start_month.timestamp())
    end = int(now.timestamp())
    for imsi, sub in state.subscribers.items():
        if sub["status"] != "active":
            continue
        samples = state.air_stats.setdefault(imsi, {})
        for unixtime in range(start, end + 1, AIR_SAMPLE_SECONDS):
            samples[unixtime] = {sub["speedClass"]: traffic_sample(imsi, unixtime)}


def populate(state: "EmulatorState") -> None:
    state.operators[DEMO_OPERATOR_ID] = {
        "operatorId": DEMO_OPERATOR_ID, "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "verified": True,
        "authKeys": {DEMO_AUTH_KEY_ID: {"authKey": DEMO_AUTH_KEY, "createDateTime": _SIM_CREATED_AT // 1000,
                                        "lastUsedDateTime": None}},
        "createDateTime": _SIM_CREATED_AT // 1000,
    }
    state.operator_mfa[DEMO_OPERATOR_ID] = {"status": "INACTIVE", "secret": None, "backupCodes": []}
    seed_subscribers(state)
    seed_groups(state)
    state.products[PLAN_KM1_PRODUCT_CODE] = copy.deepcopy(PLAN_KM1_PRODUCT)
    state.products[MODEM_PRODUCT_CODE] = copy.deepcopy(MODEM_PRODUCT)
    state.shipping_addresses[SEED_SHIPPING_ADDRESS_ID] = dict(SEED_SHIPPING_ADDRESS)
    state.payer_information = dict(SEED_PAYER_INFORMATION)
    seed_bills(state)
    seed_air_stats(state)
    from bot.emulator.bills import refresh_running_month  # bills derive from the seed: imported late

    refresh_running_month(state, state.demo)
    from bot.emulator.devices import seed_devices  # devices follow the SIMs and their traffic

    seed_devices(state)
