"""Typed results of the SORACOM API, with the spec's field names; unknown fields are kept (extra="allow")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class SoracomModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call; next_key is the `x-soracom-next-key` to pass as last_evaluated_key."""

    items: list[T]
    next_key: str | None
    rate: RateWindow | None = None  # SORACOM's rate-limit headers of this call, where it sent them


@dataclass(frozen=True)
class RateWindow:
    """X-Soracom-Ratelimit-*: calls allowed per window, how many are left, and when the window starts again."""

    limit: int
    remaining: int
    seconds_before_refresh: float


# Auth


class AuthResult(SoracomModel):
    apiKey: str | None = Field(default=None, repr=False)
    operatorId: str | None = None
    token: str | None = Field(default=None, repr=False)
    userName: str | None = None


class AuthKey(SoracomModel):
    authKeyId: str | None = None
    authKey: str | None = Field(default=None, repr=False)


class MfaEnable(SoracomModel):
    totpUri: str | None = Field(default=None, repr=False)


class MfaVerify(SoracomModel):
    backupCodes: list[str] | None = Field(default=None, repr=False)


class OperatorMfaStatus(SoracomModel):
    """Whether the SORACOM account (root user) uses MFA; not the bot's own step-up MFA of Slack users."""

    status: str | None = None


# Subscribers and groups


class ImeiLock(SoracomModel):
    imei: str | None = None


class SessionStatus(SoracomModel):
    online: bool | None = None
    imei: str | None = None
    imsi: str | None = None
    lastUpdatedAt: int | None = None
    location: dict[str, Any] | None = None
    ueIpAddress: str | None = None
    dnsServers: list[str] | None = None
    sessionId: str | None = None
    subscription: str | None = None
    vpgId: str | None = None
    gatewayPrivateIpAddress: str | None = None
    gatewayPublicIpAddress: str | None = None
    cell: dict[str, Any] | None = None
    placement: dict[str, Any] | None = None


class Subscriber(SoracomModel):
    imsi: str | None = None
    msisdn: str | None = None
    iccid: str | None = None
    serialNumber: str | None = None
    simId: str | None = None
    operatorId: str | None = None
    status: str | None = None
    speedClass: str | None = None
    type: str | None = None
    subscription: str | None = None
    moduleType: str | None = None
    plan: int | None = None
    apn: str | None = None
    ipAddress: str | None = None
    groupId: str | None = None
    tags: dict[str, str] | None = None
    sessionStatus: SessionStatus | None = None
    imeiLock: ImeiLock | None = None
    terminationEnabled: bool | None = None
    expiryTime: int | None = None
    expiryAction: str | None = None
    expiredAt: int | None = None
    createdTime: int | None = None
    createdAt: int | None = None
    lastModifiedTime: int | None = None
    lastModifiedAt: int | None = None
    registeredTime: int | None = None
    bundles: list[str] | None = None


class SimplifiedSubscriber(SoracomModel):
    """One subscription (IMSI) of a Sim's profile."""

    imsi: str | None = None
    msisdn: str | None = None
    status: str | None = None
    subscription: str | None = None
    bundles: list[str] | None = None
    capabilities: dict[str, Any] | None = None


class SimProfile(SoracomModel):
    iccid: str | None = None
    primaryImsi: str | None = None
    otaSupported: bool | None = None
    subscribers: dict[str, SimplifiedSubscriber] | None = None


class Sim(SoracomModel):
    """A SIM card (or virtual SIM) with its subscriptions, nested in `profiles` by ICCID then by IMSI."""

    simId: str | None = None
    type: str | None = None  # euicc, uicc or virtual
    operatorId: str | None = None
    status: str | None = None
    speedClass: str | None = None
    groupId: str | None = None
    tags: dict[str, str] | None = None
    sessionStatus: SessionStatus | None = None
    imeiLock: ImeiLock | None = None
    terminationEnabled: bool | None = None
    moduleType: str | None = None
    serialNumber: str | None = None
    activeProfileId: str | None = None
    profiles: dict[str, SimProfile] | None = None
    expiryTime: int | None = None
    expiryAction: str | None = None
    createdTime: int | None = None
    lastModifiedTime: int | None = None

    @property
    def primary_profile(self) -> SimProfile | None:
        """The active profile, else the first one."""
        profiles = self.profiles or {}
        return profiles.get(self.activeProfileId or "") or next(iter(profiles.values()), None)

    @property
    def primary_imsi(self) -> str | None:
        profile = self.primary_profile
        if profile is None:
            return None
        return profile.primaryImsi or next(iter(profile.subscribers or {}), None)

    @property
    def primary_subscriber(self) -> SimplifiedSubscriber | None:
        profile = self.primary_profile
        return (profile.subscribers or {}).get(self.primary_imsi or "") if profile else None

    @property
    def imsis(self) -> list[str]:
        """Every IMSI of every profile, the primary one first."""
        found = [imsi for profile in (self.profiles or {}).values() for imsi in (profile.subscribers or {})]
        primary = self.primary_imsi
        return list(dict.fromkeys(([primary] if primary else []) + found))

    @property
    def name(self) -> str | None:
        return (self.tags or {}).get("name")


class Group(SoracomModel):
    groupId: str | None = None
    operatorId: str | None = None
    tags: dict[str, str] | None = None
    configuration: dict[str, dict[str, Any]] | None = None
    createdTime: int | None = None
    lastModifiedTime: int | None = None


class DataTrafficStats(SoracomModel):
    downloadByteSizeTotal: int | None = None
    downloadPacketSizeTotal: int | None = None
    uploadByteSizeTotal: int | None = None
    uploadPacketSizeTotal: int | None = None


class AirStats(SoracomModel):
    date: str | None = None
    unixtime: int | None = None
    dataTrafficStatsMap: dict[str, DataTrafficStats] | None = None


# Event Handler


class PortMapping(SoracomModel):
    """A Napter On-Demand Remote Access entry. Its endpoint (ipAddress, port, hostname) leads into a device: the
    repr leaves it out, so a logged model cannot leak it."""

    ipAddress: str | None = Field(default=None, repr=False)
    port: float | None = Field(default=None, repr=False)
    hostname: str | None = Field(default=None, repr=False)
    endpoint: str | None = Field(default=None, repr=False)
    imsi: str | None = None
    destination: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    duration: float | None = None
    createdTime: int | None = None
    expiredTime: int | None = None
    expired: bool | None = None
    tlsRequired: bool | None = None


class EventHandler(SoracomModel):
    handlerId: str | None = None
    name: str | None = None
    description: str | None = None
    status: str | None = None
    ruleConfig: dict[str, Any] | None = None
    actionConfigList: list[dict[str, Any]] | None = Field(default=None, repr=False)  # web requests carry secrets
    targetGroupId: str | None = None
    targetImsi: str | None = None
    targetOperatorId: str | None = None
    targetSimId: str | None = None


# Orders, shipping and payer


class Product(SoracomModel):
    productCode: str | None = None
    productName: str | None = None
    productType: str | None = None
    description: str | None = None
    count: float | None = None
    price: float | None = None
    taxIncludedPrice: float | None = None
    currency: str | None = None
    maxQuantity: int | None = None
    properties: dict[str, str] | None = None
    productInfoURL: str | None = None


class ShippingCost(SoracomModel):
    shippingArea: str | None = None
    shippingAreaName: str | None = None
    shippingCost: float | None = None
    currency: str | None = None
    size: int | None = None


class ProductList(SoracomModel):
    productList: list[Product] | None = None
    shippingCostList: list[ShippingCost] | None = None


class ShippingAddress(SoracomModel):
    shippingAddressId: str | None = None
    shippingArea: str | None = None
    countryCode: str | None = None
    zipCode: str | None = None
    state: str | None = None
    city: str | None = None
    addressLine1: str | None = None
    addressLine2: str | None = None
    building: str | None = None
    companyName: str | None = None
    department: str | None = None
    fullName: str | None = None
    phoneNumber: str | None = None
    email: str | None = None


class PayerInformation(SoracomModel):
    companyName: str | None = None
    department: str | None = None
    fullName: str | None = None


class OrderItem(SoracomModel):
    product: Product | None = None
    quantity: int | None = None
    productAmount: float | None = None
    taxIncludedProductAmount: float | None = None


class Quotation(SoracomModel):
    """A created quotation (EstimatedOrderModel): an order that is not placed until confirmOrder."""

    orderId: str | None = None
    orderItemList: list[OrderItem] | None = None
    shippingAddressId: str | None = None
    shippingAddress: ShippingAddress | None = None
    shippingCost: float | None = None
    taxAmount: float | None = None
    totalAmount: float | None = None
    currency: str | None = None
    email: str | None = None


class Order(Quotation):
    orderStatus: str | None = None
    orderDateTime: str | None = None
    paymentStatus: str | None = None
    shippingDateTime: str | None = None
    shippingLabelNumber: str | None = None


# Billing


class Bill(SoracomModel):
    yearMonth: str | None = None
    amount: float | None = None
    currency: str | None = None
    state: str | None = None
    paymentStatus: str | None = None
    paymentTransactionId: str | None = None


class LatestBill(SoracomModel):
    amount: float | None = None
    currency: str | None = None
    lastEvaluatedTime: str | None = None


class DailyBill(SoracomModel):
    date: str | None = None
    amount: float | None = None
    currency: str | None = None


class BillItemCostBreakdown(SoracomModel):
    billItemName: str | None = None
    billItemCategory: str | None = None
    amount: float | None = None


class BillItemSummary(SoracomModel):
    yearMonth: str | None = None
    currency: str | None = None
    updatedTime: int | None = None
    costBreakdownList: list[BillItemCostBreakdown] | None = None


class SimCostBreakdown(SoracomModel):
    simId: str | None = None
    amount: float | None = None


class SimBillSummary(SoracomModel):
    yearMonth: str | None = None
    currency: str | None = None
    updatedTime: int | None = None
    costBreakdownList: list[SimCostBreakdown] | None = None


class BillExport(SoracomModel):
    url: str | None = None
    exportedFileId: str | None = None
    exportedFilePath: str | None = None


class ExportedFile(SoracomModel):
    status: str | None = None
    url: str | None = None


# The device behind a SIM


class Cell(SoracomModel):
    mcc: int | None = None
    mnc: int | None = None
    tac: int | None = None
    eci: int | None = None
    lac: int | None = None
    ci: int | None = None
    radioType: str | None = None


class SessionEvent(SoracomModel):
    time: int | None = None
    event: str | None = None  # Created, Modified, Deleted
    imsi: str | None = None
    imei: str | None = None
    sessionId: str | None = None
    cell: Cell | None = None
    ueIpAddress: str | None = None
    subscription: str | None = None


class SimStatusHistory(SoracomModel):
    applyDateTimeEpochSec: int | None = None
    status: str | None = None
    speedClass: str | None = None
    groupId: str | None = None
    imsi: str | None = None
    simId: str | None = None
    subscription: str | None = None


class CellLocation(SoracomModel):
    identifier: str | None = None
    lat: float | None = None
    lon: float | None = None
    range: int | None = None


class Insight(SoracomModel):
    insightId: str | None = None
    message: str | None = None
    category: str | None = None
    severity: str | None = None
    anomalyDetectedTimes: list[str] | None = None


class Diagnostic(SoracomModel):
    diagnosticId: str | None = None
    status: str | None = None  # diagnosing, done, failed
    insights: list[Insight] | None = None


class DownlinkPing(SoracomModel):
    success: bool | None = None
    rtt: str | None = None
    stat: str | None = None


class SmsForwardingReport(SoracomModel):
    messageId: str | None = None
