"""Every SORACOM API operation the client calls: operationId, method, path, service and retry rule.

The retry rule, in one place:
- A 429 answer, or a connection that was never established (connect error or timeout, pool timeout),
  means the server did not act: every operation is repeated after a wait.
- A 5xx answer or a transport error after the request was sent is ambiguous: the server may have acted.
  `IDEMPOTENT` operations are repeated then: reads, PUT/DELETE, and POST actions that set a state
  (activate, set_group, set_imei_lock, ...), which leave the same state when done twice.
  `ONCE` operations are not: each call creates something (a quotation, a group, an auth key, a
  password-reset mail, an MFA secret); the error is raised and the caller decides.
  `VERIFY` operations (confirmOrder) look at the resource first and are repeated only when the
  first call surely did not take effect (the order is still a quotation).

`service` is the operation's first tag in the official spec. SAM permissions are written
"Service:operationId", with the spec's x-sam-operationId where it differs (`sam_name`), so
`permission_policy()` gives the least-privilege policy for a set of calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Retry(StrEnum):
    IDEMPOTENT = "idempotent"
    ONCE = "once"
    VERIFY = "verify"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    service: str
    retry: Retry
    authenticated: bool = True
    in_spec: bool = True  # createOperator / verifyOperator are no longer in the public spec
    sam_name: str | None = None

    @property
    def permission(self) -> str:
        return f"{self.service}:{self.sam_name or self.operation_id}"


def _op(operation_id: str, method: str, path: str, service: str, retry: Retry = Retry.IDEMPOTENT,
        *, authenticated: bool = True, in_spec: bool = True, sam_name: str | None = None) -> Operation:
    return Operation(operation_id, method, path, service, retry, authenticated, in_spec, sam_name)


_I, _O, _V = Retry.IDEMPOTENT, Retry.ONCE, Retry.VERIFY
_SUB = "/subscribers/{imsi}"
_GROUP = "/groups/{group_id}"
_OPERATOR = "/operators/{operator_id}"

OPERATIONS: dict[str, Operation] = {op.operation_id: op for op in (
    # Auth and operator account
    _op("auth", "POST", "/auth", "Auth", _I, authenticated=False),
    _op("logout", "POST", "/auth/logout", "Auth", _I),
    _op("issuePasswordResetToken", "POST", "/auth/password_reset_token/issue", "Auth", _O, authenticated=False),
    _op("verifyPasswordResetToken", "POST", "/auth/password_reset_token/verify", "Auth", _O, authenticated=False),
    _op("generateAuthToken", "POST", f"{_OPERATOR}/token", "Operator", _I),
    _op("createOperator", "POST", "/operators", "Operator", _O, authenticated=False, in_spec=False),
    _op("verifyOperator", "POST", "/operators/verify", "Operator", _O, authenticated=False, in_spec=False),
    _op("enableMFA", "POST", f"{_OPERATOR}/mfa", "Operator", _O),
    _op("verifyMFA", "POST", f"{_OPERATOR}/mfa/verify", "Operator", _O),
    _op("getMFAStatus", "GET", f"{_OPERATOR}/mfa", "Operator"),
    _op("revokeMFA", "DELETE", f"{_OPERATOR}/mfa", "Operator"),
    # SAM users
    _op("createUser", "POST", f"{_OPERATOR}/users/{{user_name}}", "User", _O),
    _op("updateUserPermission", "PUT", f"{_OPERATOR}/users/{{user_name}}/permission", "User"),
    _op("generateUserAuthKey", "POST", f"{_OPERATOR}/users/{{user_name}}/auth_keys", "User", _O),
    # Payment and shipping
    _op("getPayerInformation", "GET", "/payment_statements/payer_information", "Payment"),
    _op("registerPayerInformation", "POST", "/payment_statements/payer_information", "Payment"),
    _op("listShippingAddresses", "GET", f"{_OPERATOR}/shipping_addresses", "ShippingAddress"),
    _op("createShippingAddress", "POST", f"{_OPERATOR}/shipping_addresses", "ShippingAddress", _O),
    _op("getShippingAddress", "GET", f"{_OPERATOR}/shipping_addresses/{{shipping_address_id}}", "ShippingAddress"),
    _op("deleteShippingAddress", "DELETE", f"{_OPERATOR}/shipping_addresses/{{shipping_address_id}}",
        "ShippingAddress"),
    # Orders
    _op("listProducts", "GET", "/products", "Order"),
    _op("createQuotation", "POST", "/orders", "Order", _O),
    _op("confirmOrder", "PUT", "/orders/{order_id}/confirm", "Order", _V),
    _op("listOrders", "GET", "/orders", "Order"),
    _op("getOrder", "GET", "/orders/{order_id}", "Order"),
    _op("cancelOrder", "PUT", "/orders/{order_id}/cancel", "Order"),
    # Subscribers
    _op("listSubscribers", "GET", "/subscribers", "Subscriber"),
    _op("getSubscriber", "GET", _SUB, "Subscriber"),
    _op("activateSubscriber", "POST", f"{_SUB}/activate", "Subscriber"),
    _op("deactivateSubscriber", "POST", f"{_SUB}/deactivate", "Subscriber"),
    _op("setSubscriberToStandby", "POST", f"{_SUB}/set_to_standby", "Subscriber"),
    _op("suspendSubscriber", "POST", f"{_SUB}/suspend", "Subscriber"),
    _op("terminateSubscriber", "POST", f"{_SUB}/terminate", "Subscriber"),
    _op("enableTermination", "POST", f"{_SUB}/enable_termination", "Subscriber"),
    _op("disableTermination", "POST", f"{_SUB}/disable_termination", "Subscriber"),
    _op("setGroup", "POST", f"{_SUB}/set_group", "Subscriber"),
    _op("unsetGroup", "POST", f"{_SUB}/unset_group", "Subscriber"),
    _op("setImeiLock", "POST", f"{_SUB}/set_imei_lock", "Subscriber"),
    _op("unsetImeiLock", "POST", f"{_SUB}/unset_imei_lock", "Subscriber"),
    _op("putSubscriberTags", "PUT", f"{_SUB}/tags", "Subscriber", sam_name="putTags"),
    _op("deleteSubscriberTag", "DELETE", f"{_SUB}/tags/{{tag_name}}", "Subscriber", sam_name="deleteTag"),
    _op("updateSpeedClass", "POST", f"{_SUB}/update_speed_class", "Subscriber"),
    _op("setExpiryTime", "POST", f"{_SUB}/set_expiry_time", "Subscriber"),
    _op("getAirStats", "GET", "/stats/air/subscribers/{imsi}", "Stats"),
    # The device behind a SIM (`/sim diagnose`, `ping`, `reconnect`, `sms`). Ending a session twice would end the
    # device's new one too, and an SMS twice reaches it twice: neither is repeated after an ambiguous failure.
    _op("listSessionEvents", "GET", f"{_SUB}/events/sessions", "Subscriber"),
    _op("listSimStatusHistory", "GET", "/sims/{sim_id}/statuses/history", "Sim"),
    _op("batchGetCellLocations", "POST", "/cell_locations", "CellLocation"),
    _op("sendDiagnosticRequest", "POST", "/diagnostics", "Diagnostic", _O),
    _op("getDiagnostic", "GET", "/diagnostics/{diagnostic_id}", "Diagnostic"),
    _op("subscriberDownlinkPingToUserEquipment", "POST", f"{_SUB}/downlink/ping", "Subscriber", _O),
    _op("deleteSubscriberSession", "POST", f"{_SUB}/delete_session", "Subscriber", _O),
    _op("sendSms", "POST", f"{_SUB}/send_sms", "Subscriber", _O),
    # Groups
    _op("createGroup", "POST", "/groups", "Group", _O),
    _op("listGroups", "GET", "/groups", "Group"),
    _op("getGroup", "GET", _GROUP, "Group"),
    _op("deleteGroup", "DELETE", _GROUP, "Group"),
    _op("putConfigurationParameters", "PUT", f"{_GROUP}/configuration/{{namespace}}", "Group"),
    _op("deleteConfigurationParameter", "DELETE", f"{_GROUP}/configuration/{{namespace}}/{{name}}", "Group"),
    _op("putGroupTags", "PUT", f"{_GROUP}/tags", "Group", sam_name="putTags"),
    _op("listSubscribersInGroup", "GET", f"{_GROUP}/subscribers", "Group", sam_name="listSubscribers"),
    # Event Handler (the alert rules `/alerts setup` makes)
    _op("listEventHandlers", "GET", "/event_handlers", "EventHandler"),
    _op("createEventHandler", "POST", "/event_handlers", "EventHandler", _O),
    _op("updateEventHandler", "PUT", "/event_handlers/{handler_id}", "EventHandler"),
    _op("deleteEventHandler", "DELETE", "/event_handlers/{handler_id}", "EventHandler"),
    # Napter On-Demand Remote Access (`/sim remote`): each create opens another endpoint, so it is never repeated
    _op("createPortMapping", "POST", "/port_mappings", "PortMapping", _O),
    _op("listPortMappings", "GET", "/port_mappings", "PortMapping"),
    _op("listPortMappingsForSubscriber", "GET", "/port_mappings/subscribers/{imsi}", "PortMapping"),
    _op("deletePortMapping", "DELETE", "/port_mappings/{ip_address}/{port}", "PortMapping"),
    # Billing
    _op("getBillingHistory", "GET", "/bills", "Billing"),
    _op("getLatestBilling", "GET", "/bills/latest", "Billing"),
    _op("getBilling", "GET", "/bills/{yyyyMM}", "Billing"),
    _op("getBillingPerDay", "GET", "/bills/{yyyyMM}/daily", "Billing"),
    _op("exportBilling", "POST", "/bills/{yyyyMM}/export", "Billing"),
    _op("getExportedFile", "GET", "/files/exported/{exported_file_id}", "Files"),
    _op("getBillingSummaryOfBillItems", "GET", "/bills/summaries/bill_items", "Billing"),
    _op("getBillingSummaryOfSims", "GET", "/bills/summaries/sims", "Billing"),
)}


def service_of(operation_id: str) -> str:
    """The SAM service name of an operation (its first tag in the spec), e.g. 'Subscriber'."""
    return OPERATIONS[operation_id].service


def permission_actions(operation_ids: Iterable[str] | None = None) -> list[str]:
    """The SAM permission ('Service:operationId') of each given operation (default: all) that needs a token."""
    ids = OPERATIONS.keys() if operation_ids is None else operation_ids
    return sorted({OPERATIONS[i].permission for i in ids if OPERATIONS[i].authenticated})


def permission_policy(operation_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """A SAM permission document that allows exactly these operations."""
    return {"statements": [{"effect": "allow", "api": permission_actions(operation_ids)}]}
