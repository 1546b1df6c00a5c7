"""The async SORACOM API client."""

from bot.soracom.client import SoracomClient
from bot.soracom.credentials import AuthKeyCredentials, Credentials, RootCredentials, SamCredentials
from bot.soracom.errors import AuthFailed, NotFound, PermissionDenied, RateLimited, SoracomError, SoracomUnavailable
from bot.soracom.models import Page

__all__ = [
    "AuthFailed",
    "AuthKeyCredentials",
    "Credentials",
    "NotFound",
    "Page",
    "PermissionDenied",
    "RateLimited",
    "RootCredentials",
    "SamCredentials",
    "SoracomClient",
    "SoracomError",
    "SoracomUnavailable",
]
