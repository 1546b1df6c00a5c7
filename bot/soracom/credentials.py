"""The three ways to authenticate to SORACOM; repr() never shows a secret."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuthKeyCredentials:
    auth_key_id: str
    auth_key: str = field(repr=False)

    def auth_body(self) -> dict[str, str]:
        return {"authKeyId": self.auth_key_id, "authKey": self.auth_key}


@dataclass(frozen=True)
class RootCredentials:
    email: str
    password: str = field(repr=False)

    def auth_body(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}


@dataclass(frozen=True)
class SamCredentials:
    operator_id: str
    user_name: str
    password: str = field(repr=False)

    def auth_body(self) -> dict[str, str]:
        return {"operatorId": self.operator_id, "userName": self.user_name, "password": self.password}


Credentials = AuthKeyCredentials | RootCredentials | SamCredentials
