"""Remote access (SORACOM Napter) in Block Kit: the preview, the channel notice, the endpoint for its opener only,
the list. Pure functions of the services' dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from slack_sdk.models.blocks import Block

from bot.messages import Mrkdwn, escape, t
from bot.services.remote import Access, Endpoint, Opening, format_span
from handlers.views.common import note, text
from handlers.views.times import local_time


def _name(name: str, imsi: str) -> str:
    return name or imsi


def _sources(sources: Sequence[str]) -> Mrkdwn:
    return Mrkdwn(", ".join(f"`{escape(s)}`" for s in sources))


def preview_text(opening: Opening) -> str:
    return t("remote.preview_title", name=_name(opening.sim_name, opening.imsi), imsi=opening.imsi)


def preview_blocks(opening: Opening, *, default_sources: bool) -> list[Block]:
    sources = _sources(opening.sources)
    if default_sources:
        sources = Mrkdwn(f"{sources} {t('remote.defaults_note')}")
    body = t("remote.preview", name=_name(opening.sim_name, opening.imsi), imsi=opening.imsi, port=opening.port,
             duration=format_span(opening.duration), sources=sources,
             tls=t("remote.tls_on") if opening.tls else t("remote.tls_off"))
    return [text(preview_text(opening)), text(body), note(t("remote.preview_note"))]


def notice_text(access: Access, zone: tzinfo) -> str:
    return t("remote.notice", user=access.opened_by, name=_name(access.sim_name, access.imsi), imsi=access.imsi,
             port=access.device_port, sources=_sources(access.sources), until=local_time(access.expires_at, zone))


def ended_notice_text(access: Access, zone: tzinfo) -> str:
    moment = local_time(access.closed_at or access.expires_at, zone)
    common = {"name": _name(access.sim_name, access.imsi), "imsi": access.imsi, "port": access.device_port,
              "sources": _sources(access.sources), "when": moment}
    if access.state == "closed" and access.closed_by:
        return t("remote.notice_closed", user=access.closed_by, **common)
    return t("remote.notice_expired", **common)


def told_text(access: Access, zone: tzinfo) -> str:
    moment = local_time(access.closed_at or access.expires_at, zone)
    common = {"name": _name(access.sim_name, access.imsi), "imsi": access.imsi, "port": access.device_port,
              "when": moment}
    if access.state == "closed" and access.closed_by:
        return t("remote.told_closed", user=access.closed_by, **common)
    return t("remote.told_expired", **common)


def opened_summary(access: Access, zone: tzinfo) -> str:
    return t("remote.opened_summary", name=_name(access.sim_name, access.imsi), port=access.device_port,
             until=local_time(access.expires_at, zone))


def endpoint_text(access: Access, endpoint: Endpoint, zone: tzinfo) -> str:
    lines = [t("remote.endpoint", name=_name(access.sim_name, access.imsi), imsi=access.imsi,
               port=access.device_port, until=local_time(access.expires_at, zone), address=endpoint.address,
               endpoint_port=endpoint.port, hostname=endpoint.hostname)]
    if endpoint.ssh:
        lines.append(t("remote.endpoint_ssh", command=endpoint.ssh))
    if endpoint.link:
        lines.append(t("remote.endpoint_link", link=endpoint.link))
    return "\n".join(lines)


def list_blocks(rows: Sequence[tuple[Access, Endpoint | None]], viewer: str, zone: tzinfo) -> list[Block]:
    """Each open access; the endpoint under the viewer's own (None: SORACOM no longer has it)."""
    if not rows:
        return [text(t("remote.list_empty"))]
    blocks: list[Block] = [text(f"*{t('remote.list_title')}*")]
    for access, endpoint in rows[:45]:
        line = t("remote.list_item", name=_name(access.sim_name, access.imsi), imsi=access.imsi,
                 port=access.device_port, user=access.opened_by, sources=_sources(access.sources),
                 until=local_time(access.expires_at, zone))
        if access.opened_by == viewer:
            line = Mrkdwn(f"{line}\n" + (t("remote.list_yours", address=endpoint.address, endpoint_port=endpoint.port,
                                             hostname=endpoint.hostname) if endpoint else t("remote.endpoint_gone")))
        blocks.append(text(line))
    return blocks
