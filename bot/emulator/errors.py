"""API errors in SORACOM's shape: an HTTP status and a body {"code": ..., "message": ...}.

Codes keep the real API's prefixes (AUM auth, SEM subscribers, GRM groups, ORM orders, BIM bills,
OPM operator, SAM users, COM common); the spec documents few, so the numbers are the emulator's own.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def bad_request(message: str, code: str = "COM0002") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str, code: str = "COM0004") -> ApiError:
    return ApiError(404, code, message)


def unauthenticated(message: str = "API key and API token are required.", code: str = "AUM0001") -> ApiError:
    return ApiError(401, code, message)


def forbidden(message: str, code: str = "SAM0001") -> ApiError:
    return ApiError(403, code, message)


def subscriber_not_found(imsi: str) -> ApiError:
    return not_found(f"The specified subscriber {imsi} does not exist.", "SEM0001")


def group_not_found(group_id: str) -> ApiError:
    return not_found(f"The specified group {group_id} does not exist.", "GRM0001")


def order_not_found(order_id: str) -> ApiError:
    return not_found(f"The specified order {order_id} does not exist.", "ORM0001")


def bill_not_found(year_month: str) -> ApiError:
    return not_found(f"No bill for {year_month}.", "BIM0001")


def user_not_found(user_name: str) -> ApiError:
    return not_found(f"The specified SAM user {user_name} does not exist.", "SAM0004")
