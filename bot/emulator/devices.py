"""The device behind each SIM: whether it is on and in coverage, its sessions, the cells it attaches through, the
SIM's status history, the SMS it received and SORACOM's diagnosis of it.

A session exists while the SIM is active, its device is online and its IMEI lock (if any) matches the device: it
is created when all three hold and deleted when one stops (standby, suspend, …, the device going offline) or on
deleteSubscriberSession, after which an online device attaches again at once. Every time is the emulator's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

# Cells the emulator can locate (batchGetCellLocations), in the API's Cell shape plus where they are.
CELLS: tuple[dict[str, Any], ...] = (
    {"mcc": 440, "mnc": 10, "tac": 5840, "eci": 44668480, "radioType": "LTE", "lat": 35.6258, "lon": 139.7237,
     "range": 476},   # Gotanda, Tokyo (sensor-03's last known location)
    {"mcc": 440, "mnc": 10, "tac": 5841, "eci": 44668481, "radioType": "LTE-M", "lat": 35.6814, "lon": 139.7665,
     "range": 820},   # Marunouchi, Tokyo
    {"mcc": 440, "mnc": 20, "tac": 6120, "eci": 10923009, "radioType": "LTE", "lat": 34.7025, "lon": 135.4959,
     "range": 650},   # Umeda, Osaka (tracker-01's last known location)
    {"mcc": 440, "mnc": 51, "tac": 4210, "eci": 20555012, "radioType": "LTE", "lat": 35.4660, "lon": 139.6223,
     "range": 1200},  # Yokohama
    {"mcc": 440, "mnc": 10, "tac": 7001, "eci": 51000333, "radioType": "LTE-M", "lat": 35.1709, "lon": 136.8815,
     "range": 990},   # Nagoya
)
# A cell OpenCelliD does not know: sessions through it have no place.
UNKNOWN_CELL: dict[str, Any] = {"mcc": 440, "mnc": 10, "tac": 9999, "eci": 99999999, "radioType": "LTE"}
CELL_FIELDS = ("mcc", "mnc", "tac", "eci", "radioType")
DNS = ("100.127.0.53", "100.127.1.53")
SESSION_EVENT_DAYS = 32  # listSessionEvents looks this far back
QUIET_SIM = "meter-02"  # the seeded device that went quiet
QUIET_HOURS = 5
IMEI_MISMATCH_SIM = "tracker-02"  # the seeded SIM locked to another device's IMEI
LOCKED_IMEI = "352099001761481"
SMS_LIMITS = {1: 160, 2: 70}  # encodingType → characters
NO_SMS_SUBSCRIPTIONS = frozenset({"plan-KM1"})  # data-only contract ("no_sms")
# GSM 03.38 default alphabet, and its extension table (each of those takes two septets). Written here again, not
# shared with the bot's own check (bot/services/devices.py): the emulator plays SORACOM, and the tests compare both.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def gsm_septets(text: str) -> int | None:
    """How many GSM 7-bit characters the text takes (extension characters count 2); None if one is not GSM."""
    count = 0
    for char in text:
        if char in GSM_BASIC:
            count += 1
        elif char in GSM_EXTENDED:
            count += 2
        else:
            return None
    return count


@dataclass
class Device:
    imsi: str
    imei: str
    cell: dict[str, Any]
    online: bool = False  # powered on and in coverage: it attaches whenever its SIM lets it
    session_id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # SessionEvent, oldest first
    history: list[dict[str, Any]] = field(default_factory=list)  # SimStatusHistoryResponse + "by", oldest first
    sms: list[dict[str, Any]] = field(default_factory=list)  # what reached it: messageId, payload, encodingType, time


def number_of(imsi: str) -> int:
    digits = imsi[5:]
    return int(digits) if digits.isdigit() else 0


def device_of(state: EmulatorState, sub: dict[str, Any]) -> Device:
    """The SIM's device; one appears (off, with the SIM's history so far) the first time a SIM is asked about."""
    device = state.devices.get(sub["imsi"])
    if device is None:
        number = number_of(sub["imsi"])
        online = bool((sub.get("sessionStatus") or {}).get("online"))
        device = Device(sub["imsi"], f"35{number:013d}", dict(CELLS[number % len(CELLS)]), online=online)
        device.history.append(history_entry(sub, sub.get("createdAt") or state.now_ms(), str(sub["operatorId"])))
        state.devices[sub["imsi"]] = device
    return device


def public(entry: dict[str, Any], hidden: tuple[str, ...] = ("by",)) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key not in hidden}


def sim_id(sub: dict[str, Any]) -> str:
    """SORACOM's SIM ID of an IoT SIM is its ICCID."""
    return str(sub.get("simId") or sub["iccid"])


def history_entry(sub: dict[str, Any], at_ms: int, by: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"applyDateTimeEpochSec": at_ms // 1000, "imsi": sub["imsi"], "simId": sim_id(sub),
                             "status": sub["status"], "speedClass": sub["speedClass"],
                             "subscription": sub["subscription"], "isPrimary": True, "primaryImsi": sub["imsi"],
                             "bundles": list(sub.get("bundles") or []), "by": by}
    if sub.get("groupId"):
        entry["groupId"] = sub["groupId"]
    return entry


def record_status(state: EmulatorState, sub: dict[str, Any], by: str) -> None:
    """A status operation (lifecycle, speed class, group) as the status history keeps it, with who made it."""
    device_of(state, sub).history.append(history_entry(sub, state.now_ms(), by))


def imei_allowed(sub: dict[str, Any], device: Device) -> bool:
    lock = (sub.get("imeiLock") or {}).get("imei")
    return not lock or lock.split("|")[0] == device.imei


def _event(state: EmulatorState, sub: dict[str, Any], device: Device, kind: str, at_ms: int) -> dict[str, Any]:
    number = number_of(sub["imsi"])
    event = {"time": at_ms, "event": kind, "imsi": sub["imsi"], "simId": sim_id(sub),
             "operatorId": sub["operatorId"], "sessionId": device.session_id or "", "imei": device.imei,
             "apn": sub.get("apn") or "soracom.io", "subscription": sub["subscription"],
             "cell": {key: device.cell[key] for key in CELL_FIELDS},
             "ueIpAddress": f"10.{134 + number % 3}.{number * 13 % 256}.{number * 29 % 254 + 1}",
             "dns0": DNS[0], "dns1": DNS[1]}
    device.events.append(event)
    return event


def attach(state: EmulatorState, sub: dict[str, Any], device: Device | None = None, at_ms: int | None = None) -> bool:
    """Opens a session when the SIM is active, the device online and the IMEI lock lets it; True if one opened."""
    device = device or device_of(state, sub)
    if device.session_id or not device.online or sub["status"] != "active" or not imei_allowed(sub, device):
        return False
    moment = state.now_ms() if at_ms is None else at_ms
    device.session_id = state.new_uuid()
    event = _event(state, sub, device, "Created", moment)
    previous = sub.get("sessionStatus") or {}
    sub["sessionStatus"] = {"lastUpdatedAt": moment, "imei": device.imei, "location": previous.get("location"),
                            "ueIpAddress": event["ueIpAddress"], "dnsServers": list(DNS), "online": True,
                            "sessionId": device.session_id, "imsi": sub["imsi"], "subscription": sub["subscription"],
                            "cell": dict(event["cell"])}
    return True


def detach(state: EmulatorState, sub: dict[str, Any], device: Device | None = None, at_ms: int | None = None) -> bool:
    """Ends the session, if there is one; True if one ended."""
    device = device or device_of(state, sub)
    moment = state.now_ms() if at_ms is None else at_ms
    ended = device.session_id is not None
    if ended:
        _event(state, sub, device, "Deleted", moment)
        device.session_id = None
    session = sub.get("sessionStatus")
    if session and session.get("online"):
        for key in ("sessionId", "imsi", "subscription", "cell"):
            session.pop(key, None)
        session.update({"online": False, "lastUpdatedAt": moment, "ueIpAddress": None, "dnsServers": None})
        ended = True
    return ended


def set_online(state: EmulatorState, sub: dict[str, Any], online: bool) -> Device:
    """The device is switched on (or comes into coverage) or goes quiet."""
    device = device_of(state, sub)
    device.online = online
    if online:
        attach(state, sub, device)
    else:
        detach(state, sub, device)
    return device


def reconnect(state: EmulatorState, sub: dict[str, Any]) -> None:
    """deleteSubscriberSession: the session ends and an online device attaches again with a new one."""
    device = device_of(state, sub)
    now = state.now_ms()
    detach(state, sub, device, now - 1)  # a millisecond apart: each event keeps its own time (the paging key)
    attach(state, sub, device, now)


def ping(state: EmulatorState, sub: dict[str, Any], count: int) -> dict[str, Any]:
    """DownlinkPingResponse: replies only through an open session, with RTTs of the cell's radio type."""
    device = device_of(state, sub)
    if not device.session_id:
        return {"success": False, "rtt": "",
                "stat": f"{count} packets transmitted, 0 received, 100% packet loss"}
    base = 180.0 if device.cell.get("radioType") == "LTE-M" else 45.0
    times = [base + state.rng.uniform(0, base / 3) for _ in range(count)]
    mean = sum(times) / count
    deviation = (sum((t - mean) ** 2 for t in times) / count) ** 0.5
    return {"success": True,
            "rtt": f"rtt min/avg/max/mdev = {min(times):.3f}/{mean:.3f}/{max(times):.3f}/{deviation:.3f} ms",
            "stat": f"{count} packets transmitted, {count} received, 0% packet loss"}


def receive_sms(state: EmulatorState, sub: dict[str, Any], payload: str, encoding: int) -> dict[str, Any]:
    message = {"messageId": state.new_uuid(), "payload": payload, "encodingType": encoding,
               "time": state.now_ms(), "deliveredOnline": bool(device_of(state, sub).session_id)}
    device_of(state, sub).sms.append(message)
    return message


def locate(cell: dict[str, Any]) -> dict[str, Any] | None:
    """The known cell matching a CellIdentifier (strings, as the API takes them), or None."""
    def number(name: str) -> int | None:
        value = cell.get(name)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    eci = number("ecid") if number("ecid") is not None else number("eci")
    for known in CELLS:
        if (number("mcc"), number("mnc")) != (known["mcc"], known["mnc"]):
            continue
        if eci == known["eci"] or (eci is None and number("tac") == known["tac"]):
            return known
    return None


# SORACOM's diagnosis, derived from what the emulator holds.


def insights(state: EmulatorState, sub: dict[str, Any]) -> list[dict[str, Any]]:
    device = device_of(state, sub)
    found: list[dict[str, Any]] = []

    def add(insight_id: str, category: str, severity: str, message: str, times: list[int] | None = None) -> None:
        item: dict[str, Any] = {"insightId": insight_id, "category": category, "severity": severity,
                                "message": message}
        if times:
            item["anomalyDetectedTimes"] = [str(t) for t in times]
        found.append(item)

    if sub["status"] != "active":
        add("sim-not-active", "sim", "error",
            f"The SIM is {sub['status']}: it cannot open a data session until it is activated.")
    elif not imei_allowed(sub, device):
        add("imei-mismatch", "sim", "error",
            f"The SIM is locked to IMEI {sub['imeiLock']['imei']}, but the device uses {device.imei}: "
            "its sessions are refused.")
    if sub["status"] == "active" and not device.session_id:
        ended = [e["time"] for e in device.events if e["event"] == "Deleted"]
        since = ended[-1] if ended else None
        hours = (state.now_ms() - since) // 3_600_000 if since else None
        add("no-session", "session", "warning",
            f"No data session for {hours} hours." if hours is not None else "No data session in the last 32 days.",
            [since] if since else None)
    if sub["speedClass"] == "s1.minimum":
        add("speed-minimum", "data", "warning", "The speed class is s1.minimum (up to 32 kbps).")
    if not found:
        add("no-problem", "others", "info", "No problem was found.")
    return found


def diagnose(state: EmulatorState, sub: dict[str, Any], operator_id: str, start: int, end: int) -> dict[str, Any]:
    diagnostic_id = state.new_uuid()
    response = {"diagnosticId": diagnostic_id, "status": "diagnosing", "service": "Air", "resourceType": "sim",
                "resourceId": sim_id(sub), "from": start, "to": end, "insights": []}
    state.diagnostics[diagnostic_id] = {"operatorId": operator_id, "response": response, "polls": 0,
                                        "insights": insights(state, sub)}
    return dict(response)


def diagnosis(state: EmulatorState, diagnostic_id: str, operator_id: str) -> dict[str, Any] | None:
    """The diagnosis as it stands: `diagnosing` for the first `state.diagnosis_polls` reads, then `done`."""
    kept = state.diagnostics.get(diagnostic_id)
    if kept is None or kept["operatorId"] != operator_id:
        return None
    kept["polls"] += 1
    if kept["polls"] > state.diagnosis_polls:
        kept["response"].update(status="done", insights=kept["insights"])
    return dict(kept["response"])


# The seed: every demo SIM's device, consistent with its session status, traffic and lifecycle.


def seed_devices(state: EmulatorState) -> None:
    now = state.now_ms()
    hour = 3_600_000
    for sub in state.subscribers.values():
        name = sub["tags"].get("name", "")
        session = sub.get("sessionStatus") or {}
        device = device_of(state, sub)
        number = number_of(sub["imsi"])
        if number % 7 == 6:
            device.cell = dict(UNKNOWN_CELL)
        if sub["lastModifiedAt"] != sub["createdAt"]:
            device.history.append(history_entry(sub, sub["lastModifiedAt"], str(sub["operatorId"])))
        if sub["status"] != "active" or number == 1:  # sensor-01's last session is the transcript's, years ago
            continue
        device.online = True
        # Yesterday's session, ended, then today's
        attach(state, sub, device, now - 26 * hour - number * 60_000)
        detach(state, sub, device, now - 25 * hour)
        if name == IMEI_MISMATCH_SIM:
            sub["imeiLock"] = {"imei": LOCKED_IMEI}  # a replaced device, on and refused since yesterday
            continue
        if name == QUIET_SIM:
            attach(state, sub, device, now - 20 * hour)
            detach(state, sub, device, now - QUIET_HOURS * hour)
            device.online = False
            _no_traffic_after(state.air_stats.get(sub["imsi"], {}), (now - QUIET_HOURS * hour) // 1000)
            continue
        if not session.get("online"):
            device.online = False
            continue
        location = session.get("location")
        attach(state, sub, device, session.get("lastUpdatedAt") or now - hour)
        sub["sessionStatus"]["location"] = location



def _no_traffic_after(stats: dict[int, dict[str, dict[str, int]]], since: int) -> None:
    """A quiet device's traffic ends when it went quiet. What it had used later this month is counted in its last
    sample before (the month's total, which the fleet's top traffic ranks, stays as seeded)."""
    def month(unixtime: int) -> str:
        return datetime.fromtimestamp(unixtime, timezone.utc).strftime("%Y%m")

    last = max((moment for moment in stats if moment <= since), default=None)
    for moment in sorted(m for m in stats if m > since):
        sample = stats.pop(moment)
        if last is None or month(last) != month(moment):
            continue
        for speed_class, figures in sample.items():
            kept = stats[last].setdefault(speed_class, dict.fromkeys(figures, 0))
            for name, value in figures.items():
                kept[name] = kept.get(name, 0) + value
