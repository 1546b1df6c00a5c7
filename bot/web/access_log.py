"""uvicorn's access log prints each request's path: the one-time enrollment token must not reach the logs."""

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


def redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactEnrollTokens) for f in access.filters):
        access.addFilter(RedactEnrollTokens())
