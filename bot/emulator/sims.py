"""The spec's `Sim` shape of a SIM held in the emulator's state, where one subscriber (IMSI) is one card."""

from __future__ import annotations

from typing import Any

SIM_TYPE = "uicc"  # the emulator holds physical cards only, each with one profile and one subscription
_SIM_FIELDS = ("operatorId", "status", "speedClass", "groupId", "tags", "imeiLock", "terminationEnabled",
               "moduleType", "serialNumber", "expiryTime", "expiryAction", "createdTime", "lastModifiedTime")


def sim_of(sub: dict[str, Any]) -> dict[str, Any]:
    """The Sim of a subscriber: its ICCID names the SIM and its profile; its IMSI is the profile's primary one."""
    iccid, imsi = sub["iccid"], sub["imsi"]
    # The spec's SimplifiedSubscriber: for the primary subscription, status is the SIM's status.
    subscriber = {"imsi": imsi, "msisdn": sub["msisdn"], "status": sub["status"], "subscription": sub["subscription"]}
    if "bundles" in sub:
        subscriber["bundles"] = list(sub["bundles"])
    sim: dict[str, Any] = {"simId": iccid, "type": SIM_TYPE, "activeProfileId": iccid}
    sim.update({key: sub[key] for key in _SIM_FIELDS if key in sub})
    sim["tags"] = dict(sub["tags"])
    session = sub.get("sessionStatus")
    sim["sessionStatus"] = {**session, "imsi": imsi, "subscription": sub["subscription"]} if session else None
    sim["profiles"] = {iccid: {"iccid": iccid, "primaryImsi": imsi, "subscribers": {imsi: subscriber}}}
    return sim
