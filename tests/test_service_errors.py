"""Handlers see SORACOM's refusals as ServiceError; services calling one another still see the client's errors."""

from __future__ import annotations

import pytest

from bot.services.errors import ServiceError, service
from bot.soracom import NotFound, SoracomError, SoracomUnavailable


@service
async def inner(error: SoracomError) -> None:
    raise error


@service
async def outer(error: SoracomError) -> str:
    try:
        await inner(error)
    except NotFound:  # a service deciding on the client's own type
        return "not found"
    return "unreachable"


async def test_the_outermost_use_case_translates_keeping_what_handlers_say() -> None:
    original = SoracomError(500, "SEM0001", "down")
    with pytest.raises(ServiceError) as caught:
        await inner(original)
    error = caught.value
    assert (error.status, error.code, error.message, error.ambiguous, error.unavailable) == (500, "SEM0001", "down",
                                                                                            True, False)
    assert str(error) == str(original) and error.__cause__ is original
    assert not isinstance(error, SoracomError)


async def test_services_calling_services_see_the_clients_errors() -> None:
    assert await outer(NotFound(404, "SEM0004", "no such SIM")) == "not found"
    with pytest.raises(ServiceError) as caught:
        await outer(SoracomUnavailable("timed out"))
    assert caught.value.unavailable and caught.value.ambiguous and caught.value.status == 0
