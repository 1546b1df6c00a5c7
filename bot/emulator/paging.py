"""SORACOM pagination: query `limit` and `last_evaluated_key`, response header `x-soracom-next-key` (and `link`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from starlette.responses import Response

from bot.emulator.errors import bad_request
from bot.emulator.registry import Call, reply

DEFAULT_LIMIT = 100


def paginate(call: Call, items: Iterable[dict[str, Any]], key: str, max_limit: int | None = None,
             shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Response:
    """One page of items (sorted by `key`) after last_evaluated_key; the next-key header only when more remain.

    `items` is read lazily, no further than one item past the page: an iterator that already starts after the key
    makes a page cost its own size, not the whole listing's. `shape` turns each item of the page into what the
    operation answers (the key is read before it)."""
    limit = call.int_query("limit", DEFAULT_LIMIT)
    assert limit is not None
    if limit < 1:
        raise bad_request("limit must be 1 or more.")
    if max_limit is not None:
        limit = min(limit, max_limit)
    last = call.query.get("last_evaluated_key")
    if last:
        items = (item for item in items if item[key] > last)
    page = list(islice(items, limit + 1))
    more = len(page) > limit
    page = page[:limit]
    headers = {}
    if more:
        next_key = page[-1][key]
        headers["x-soracom-next-key"] = next_key
        headers["link"] = f'<{call.request.url.include_query_params(last_evaluated_key=next_key)}>; rel=next'
    return reply([shape(item) for item in page] if shape else page, headers=headers)
