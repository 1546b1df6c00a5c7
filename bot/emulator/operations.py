"""Every operation the emulator serves: operationId → method, path template (under /v1), SAM service.

The service is the operation's first tag in the official spec; `sam_name` is the spec's
x-sam-operationId where it differs, the name SAM permission statements use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    service: str
    auth: bool = True
    sam_name: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    @property
    def permission_name(self) -> str:
        return f"{self.service}:{self.sam_name or self.operation_id}"

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))


OPERATIONS: tuple[Operation, ...] = (
    # Auth and operator account
    Operation("auth", "POST", "/auth", "Auth", auth=False),
    Operation("logout", "POST", "/auth/logout", "Auth"),
    Operation("issuePasswordResetToken", "POST", "/auth/password_reset_token/issue", "Auth", auth=False),
    Operation("verifyPasswordResetToken", "POST", "/auth/password_reset_token/verify", "Auth", auth=False),
    Operation("generateAuthToken", "POST", "/operators/{operator_id}/token", "Operator"),
    # Sign-up: gone from the current spec, present in the seed transcript (historical operationIds).
    Operation("createOperator", "POST", "/operators", "Operator", auth=False),
    Operation("verifyOperator", "POST", "/operators/verify", "Operator", auth=False),
    Operation("enableMFA", "POST", "/operators/{operator_id}/mfa", "Operator"),
    Operation("getMFAStatus", "GET", "/operators/{operator_id}/mfa", "Operator"),
    Operation("revokeMFA", "DELETE", "/operators/{operator_id}/mfa", "Operator"),
    Operation("verifyMFA", "POST", "/operators/{operator_id}/mfa/verify", "Operator"),
    # SAM users
    Operation("listUsers", "GET", "/operators/{operator_id}/users", "User"),
    Operation("createUser", "POST", "/operators/{operator_id}/users/{user_name}", "User"),
    Operation("getUser", "GET", "/operators/{operator_id}/users/{user_name}", "User"),
    Operation("deleteUser", "DELETE", "/operators/{operator_id}/users/{user_name}", "User"),
    Operation("getUserPermission", "GET", "/operators/{operator_id}/users/{user_name}/permission", "User"),
    Operation("updateUserPermission", "PUT", "/operators/{operator_id}/users/{user_name}/permission", "User"),
    Operation("listUserAuthKeys", "GET", "/operators/{operator_id}/users/{user_name}/auth_keys", "User"),
    Operation("generateUserAuthKey", "POST", "/operators/{operator_id}/users/{user_name}/auth_keys", "User"),
    Operation("createUserPassword", "POST", "/operators/{operator_id}/users/{user_name}/password", "User"),
    # Payer information and shipping addresses
    Operation("getPayerInformation", "GET", "/payment_statements/payer_information", "Payment"),
    Operation("registerPayerInformation", "POST", "/payment_statements/payer_information", "Payment"),
    Operation("listShippingAddresses", "GET", "/operators/{operator_id}/shipping_addresses", "ShippingAddress"),
    Operation("createShippingAddress", "POST", "/operators/{operator_id}/shipping_addresses", "ShippingAddress"),
    Operation("getShippingAddress", "GET", "/operators/{operator_id}/shipping_addresses/{shipping_address_id}",
              "ShippingAddress"),
    Operation("deleteShippingAddress", "DELETE", "/operators/{operator_id}/shipping_addresses/{shipping_address_id}",
              "ShippingAddress"),
    # Orders
    Operation("listProducts", "GET", "/products", "Order"),
    Operation("createQuotation", "POST", "/orders", "Order"),
    Operation("listOrders", "GET", "/orders", "Order"),
    Operation("getOrder", "GET", "/orders/{order_id}", "Order"),
    Operation("confirmOrder", "PUT", "/orders/{order_id}/confirm", "Order"),
    Operation("cancelOrder", "PUT", "/orders/{order_id}/cancel", "Order"),
    # Subscribers
    Operation("listSubscribers", "GET", "/subscribers", "Subscriber"),
    Operation("getSubscriber", "GET", "/subscribers/{imsi}", "Subscriber"),
    Operation("activateSubscriber", "POST", "/subscribers/{imsi}/activate", "Subscriber"),
    Operation("deactivateSubscriber", "POST", "/subscribers/{imsi}/deactivate", "Subscriber"),
    Operation("setSubscriberToStandby", "POST", "/subscribers/{imsi}/set_to_standby", "Subscriber"),
    Operation("suspendSubscriber", "POST", "/subscribers/{imsi}/suspend", "Subscriber"),
    Operation("terminateSubscriber", "POST", "/subscribers/{imsi}/terminate", "Subscriber"),
    Operation("enableTermination", "POST", "/subscribers/{imsi}/enable_termination", "Subscriber"),
    Operation("disableTermination", "POST", "/subscribers/{imsi}/disable_termination", "Subscriber"),
    Operation("setGroup", "POST", "/subscribers/{imsi}/set_group", "Subscriber"),
    Operation("unsetGroup", "POST", "/subscribers/{imsi}/unset_group", "Subscriber"),
    Operation("setImeiLock", "POST", "/subscribers/{imsi}/set_imei_lock", "Subscriber"),
    Operation("unsetImeiLock", "POST", "/subscribers/{imsi}/unset_imei_lock", "Subscriber"),
    Operation("putSubscriberTags", "PUT", "/subscribers/{imsi}/tags", "Subscriber", sam_name="putTags"),
    Operation("deleteSubscriberTag", "DELETE", "/subscribers/{imsi}/tags/{tag_name}", "Subscriber",
              sam_name="deleteTag"),
    Operation("updateSpeedClass", "POST", "/subscribers/{imsi}/update_speed_class", "Subscriber"),
    Operation("setExpiryTime", "POST", "/subscribers/{imsi}/set_expiry_time", "Subscriber"),
    Operation("getAirStats", "GET", "/stats/air/subscribers/{imsi}", "Stats"),
    # The device behind a SIM
    Operation("listSessionEvents", "GET", "/subscribers/{imsi}/events/sessions", "Subscriber"),
    Operation("deleteSubscriberSession", "POST", "/subscribers/{imsi}/delete_session", "Subscriber"),
    Operation("subscriberDownlinkPingToUserEquipment", "POST", "/subscribers/{imsi}/downlink/ping", "Subscriber"),
    Operation("sendSms", "POST", "/subscribers/{imsi}/send_sms", "Subscriber"),
    Operation("listSimStatusHistory", "GET", "/sims/{sim_id}/statuses/history", "Sim"),
    Operation("batchGetCellLocations", "POST", "/cell_locations", "CellLocation"),
    Operation("sendDiagnosticRequest", "POST", "/diagnostics", "Diagnostic"),
    Operation("getDiagnostic", "GET", "/diagnostics/{diagnostic_id}", "Diagnostic"),
    # Groups
    Operation("listGroups", "GET", "/groups", "Group"),
    Operation("createGroup", "POST", "/groups", "Group"),
    Operation("getGroup", "GET", "/groups/{group_id}", "Group"),
    Operation("deleteGroup", "DELETE", "/groups/{group_id}", "Group"),
    Operation("putConfigurationParameters", "PUT", "/groups/{group_id}/configuration/{namespace}", "Group"),
    Operation("deleteConfigurationParameter", "DELETE", "/groups/{group_id}/configuration/{namespace}/{name}", "Group"),
    Operation("putGroupTags", "PUT", "/groups/{group_id}/tags", "Group", sam_name="putTags"),
    Operation("listSubscribersInGroup", "GET", "/groups/{group_id}/subscribers", "Group", sam_name="listSubscribers"),
    # Event Handler
    Operation("listEventHandlers", "GET", "/event_handlers", "EventHandler"),
    Operation("createEventHandler", "POST", "/event_handlers", "EventHandler"),
    Operation("getEventHandler", "GET", "/event_handlers/{handler_id}", "EventHandler"),
    Operation("updateEventHandler", "PUT", "/event_handlers/{handler_id}", "EventHandler"),
    Operation("deleteEventHandler", "DELETE", "/event_handlers/{handler_id}", "EventHandler"),
    # Napter On-Demand Remote Access
    Operation("listPortMappings", "GET", "/port_mappings", "PortMapping"),
    Operation("createPortMapping", "POST", "/port_mappings", "PortMapping"),
    Operation("listPortMappingsForSubscriber", "GET", "/port_mappings/subscribers/{imsi}", "PortMapping"),
    Operation("deletePortMapping", "DELETE", "/port_mappings/{ip_address}/{port}", "PortMapping"),
    # Billing
    Operation("getBillingHistory", "GET", "/bills", "Billing"),
    Operation("getLatestBilling", "GET", "/bills/latest", "Billing"),
    Operation("getBillingSummaryOfBillItems", "GET", "/bills/summaries/bill_items", "Billing"),
    Operation("getBillingSummaryOfSims", "GET", "/bills/summaries/sims", "Billing"),
    Operation("getBilling", "GET", "/bills/{yyyyMM}", "Billing"),
    Operation("getBillingPerDay", "GET", "/bills/{yyyyMM}/daily", "Billing"),
    Operation("exportBilling", "POST", "/bills/{yyyyMM}/export", "Billing"),
    Operation("getExportedFile", "GET", "/files/exported/{exported_file_id}", "Files"),
    # Sandbox (soracom-sandbox-api.en.yaml)
    Operation("sandboxInitializeOperator", "POST", "/sandbox/init", "API Sandbox: Operator", auth=False),
    Operation("sandboxGetSignupToken", "POST", "/sandbox/operators/token/{email}", "API Sandbox: Operator", auth=False),
    Operation("sandboxCreateSubscriber", "POST", "/sandbox/subscribers/create", "API Sandbox: Subscriber"),
    Operation("sandboxInsertAirStats", "POST", "/sandbox/stats/air/subscribers/{imsi}", "API Sandbox: Stats"),
    Operation("sandboxShipOrder", "POST", "/sandbox/orders/ship", "API Sandbox: Order"),
)

OPERATIONS_BY_ID: dict[str, Operation] = {op.operation_id: op for op in OPERATIONS}

# Literal paths win over templates (/bills/latest before /bills/{yyyyMM}).
_MATCH_ORDER = sorted(OPERATIONS, key=lambda op: -op.literal_segments)

# Operations every authenticated caller may use, whatever its permission ("regardless of any permission settings").
PERMISSION_FREE = frozenset({"logout"})


@dataclass(frozen=True)
class Match:
    operation: Operation | None
    params: dict[str, str]
    allowed_methods: tuple[str, ...]


def match(method: str, raw_path: str) -> Match:
    """Find the operation for a request path below /v1 (still percent-encoded, so tag names may hold '/')."""
    allowed: list[str] = []
    for op in _MATCH_ORDER:
        found = op.pattern.match(raw_path)
        if not found:
            continue
        if op.method == method:
            return Match(op, {k: unquote(v) for k, v in found.groupdict().items()}, ())
        allowed.append(op.method)
    return Match(None, {}, tuple(allowed))
