"""Air usage: traffic per period (month, day or 5 minutes), per speed class."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from starlette.responses import Response

from bot.emulator.api.subscribers import get_subscriber
from bot.emulator.errors import bad_request
from bot.emulator.registry import Call, handles, reply

STAT_FIELDS = ("uploadByteSizeTotal", "uploadPacketSizeTotal", "downloadByteSizeTotal", "downloadPacketSizeTotal")
DATE_FORMATS = {"month": "%Y%m", "day": "%Y%m%d", "minutes": "%Y%m%d%H%M%S"}
LAST_UNIXTIME = 253402300799  # 9999-12-31T23:59:59Z: the last moment a date can name


def check_unixtime(value: int, name: str) -> None:
    if not 0 <= value <= LAST_UNIXTIME:
        raise bad_request(f"{name} must be a UNIX time in seconds between 0 and {LAST_UNIXTIME}.")


def bucket_start(unixtime: int, period: str) -> int:
    moment = datetime.fromtimestamp(unixtime, timezone.utc)
    if period == "month":
        moment = moment.replace(day=1, hour=0, minute=0, second=0)
    elif period == "day":
        moment = moment.replace(hour=0, minute=0, second=0)
    else:
        moment = moment.replace(minute=moment.minute - moment.minute % 5, second=0)
    return int(moment.timestamp())


def aggregate(samples: dict[int, dict[str, dict[str, int]]], start: int, end: int,
              period: str) -> list[dict[str, Any]]:
    buckets: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    first, last = bucket_start(start, period), bucket_start(end, period)
    for unixtime, by_class in samples.items():
        bucket = bucket_start(unixtime, period)
        if not first <= bucket <= last:
            continue
        for speed_class, stats in by_class.items():
            totals = buckets[bucket].setdefault(speed_class, dict.fromkeys(STAT_FIELDS, 0))
            for name in STAT_FIELDS:
                totals[name] += int(stats.get(name, 0))
    return [{"date": datetime.fromtimestamp(bucket, timezone.utc).strftime(DATE_FORMATS[period]),
             "unixtime": bucket, "dataTrafficStatsMap": buckets[bucket]} for bucket in sorted(buckets)]


@handles("getAirStats")
def get_air_stats(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    start, end, period = call.int_query("from"), call.int_query("to"), call.query.get("period")
    if start is None or end is None or period not in DATE_FORMATS:
        raise bad_request("from and to (UNIX seconds) and period (month, day or minutes) are required.")
    check_unixtime(start, "from")
    check_unixtime(end, "to")
    if start > end:
        raise bad_request("from must not be after to.")
    if sub["status"] == "terminated":
        return reply([])
    return reply(aggregate(call.data.air_stats.get(sub["imsi"], {}), start, end, period))
