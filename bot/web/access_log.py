"""Paths that carry secrets must not reach the logs: uvicorn's access log prints each request's path (the one-time
enrollment token), httpx logs each URL it calls (a Napter endpoint in deletePortMapping's path)."""

from __future__ import annotations

import logging
import re

TOKEN_PATH = re.compile(r"^/mfa/enroll/[^/?\s]+")
REDACTED = "/mfa/enroll/[redacted]"


def redact_path(path: str) -> str:
    return TOKEN_PATH.sub(REDACTED, path)


class RedactEnrollTokens(logging.Filter):
    """uvicorn.access records carry (client, method, path, http version, status) as their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


PORT_MAPPING_PATH = re.compile(r"/port_mappings/(?!subscribers/)[^/\s\"?]+/[^/\s\"?]+")
PORT_MAPPING_REDACTED = "/port_mappings/[redacted]/[redacted]"


class RedactRemoteEndpoints(logging.Filter):
    """A remote access endpoint (address and port) in a logged URL is replaced, whatever the record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "/port_mappings/" not in record.getMessage():
            return True
        if isinstance(record.args, tuple):  # uvicorn's access formatter reads the arguments by position
            record.args = tuple(PORT_MAPPING_PATH.sub(PORT_MAPPING_REDACTED, str(a)) if "/port_mappings/" in str(a)
                                else a for a in record.args)
        record.msg = PORT_MAPPING_PATH.sub(PORT_MAPPING_REDACTED, str(record.msg))
        return True


def redact_remote_endpoints(*names: str) -> None:
    for name in names or ("httpx", "bot.soracom.wire", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactRemoteEndpoints) for f in logger.filters):
            logger.addFilter(RedactRemoteEndpoints())


class QuietDeliveries(logging.Filter):
    """SORACOM's deliveries answered 2xx leave no access line: a storm is hundreds a second, and writing each line
    would cost serve's front process more than the delivery itself. Refused ones (401, 400, 413, 503) are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) >= 5 and args[2] == "/soracom/events"
                    and isinstance(args[4], int) and 200 <= args[4] < 300)


def redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietDeliveries) for f in access.filters):
        access.addFilter(QuietDeliveries())
    if not any(isinstance(f, RedactEnrollTokens) for f in access.filters):
        access.addFilter(RedactEnrollTokens())
