"""Block Kit as terminal text. Interactive elements are numbered so a person can press them by number;
`collect_actions` returns the same numbering as the rendering."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

RULE = "-" * 40
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class ActionRef:
    number: int
    action_id: str
    value: str | None
    block_id: str
    label: str
    kind: str
    style: str | None = None
    url: str | None = None
    options: tuple[dict[str, Any], ...] = field(default=(), repr=False)


def render_message(message: dict[str, Any], start: int = 1) -> str:
    return _Layout(start).message(message).text()


def render_view(view: dict[str, Any], start: int = 1) -> str:
    return _Layout(start).view(view).text()


def collect_actions(message_or_view: dict[str, Any], start: int = 1) -> list[ActionRef]:
    layout = _Layout(start)
    if message_or_view.get("type") in ("modal", "home"):
        layout.view(message_or_view)
    else:
        layout.message(message_or_view)
    return layout.actions


def mrkdwn(text: str) -> str:
    """Slack's link, mention and escape syntax made readable; *bold*, _italic_ and `code` marks are kept."""
    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target[:2] in ("@U", "@W"):
            return f"@{label or target[1:]}"
        if target.startswith("#C"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{label or target[1:].split('^')[0]}"
        return f"{label} ({target})" if label and label != target else target
    return html.unescape(_LINK.sub(link, text))


def plain(text_object: Any) -> str:
    if not isinstance(text_object, dict):
        return str(text_object or "")
    text = text_object.get("text", "")
    return mrkdwn(text) if text_object.get("type") == "mrkdwn" else text


class _Layout:
    """Walks blocks once, producing lines and the numbered interactive elements in display order."""

    def __init__(self, start: int) -> None:
        self.lines: list[str] = []
        self.actions: list[ActionRef] = []
        self._next = start

    def text(self) -> str:
        return "\n".join(self.lines)

    def message(self, message: dict[str, Any]) -> "_Layout":
        blocks = message.get("blocks") or []
        if blocks:
            self.blocks(blocks)
        elif message.get("text"):
            self.lines.extend(mrkdwn(message["text"]).splitlines())
        for attachment in message.get("attachments") or []:
            self._attachment(attachment)
        for shared in message.get("files") or []:
            self.lines.append(f"[file] {shared.get('title') or shared.get('name')} ({shared.get('name')}, "
                              f"{shared.get('size', '?')} bytes) {shared.get('url_private', '')}".rstrip())
        return self

    def view(self, view: dict[str, Any]) -> "_Layout":
        fallback = "Home" if view.get("type") == "home" else "Modal"
        self.lines.append(f"=== {plain(view.get('title')) or fallback} ===")
        self.blocks(view.get("blocks") or [])
        buttons = [f"[{name}: {plain(view[key])}]" for key, name in (("submit", "Submit"), ("close", "Close"))
                   if view.get(key)]
        if buttons:
            self.lines.append(" ".join(buttons))
        return self

    def blocks(self, blocks: list[dict[str, Any]]) -> None:
        for block in blocks:
            render = getattr(self, f"_{block.get('type')}", None)
            if render is None:
                self.lines.append(f"[{block.get('type')} block]")
            else:
                render(block)

    # ---- block types -----------------------------------------------------------------------------------------
    def _header(self, block: dict[str, Any]) -> None:
        self.lines.append(f"== {plain(block.get('text'))} ==")

    def _section(self, block: dict[str, Any]) -> None:
        if block.get("text"):
            self.lines.extend(plain(block["text"]).splitlines())
        for item in block.get("fields") or []:
            self.lines.append(f"  {_field(plain(item))}")
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "image":
            self.lines.append(f"  [image: {accessory.get('alt_text', '')}] {accessory.get('image_url', '')}")
        elif accessory:
            self.lines.append("  " + self._element(block, accessory))

    def _context(self, block: dict[str, Any]) -> None:
        parts = [f"[image: {e.get('alt_text', '')}]" if e.get("type") == "image" else plain(e)
                 for e in block.get("elements") or []]
        self.lines.append("  " + " · ".join(p.replace("\n", " ") for p in parts))

    def _divider(self, block: dict[str, Any]) -> None:
        self.lines.append(RULE)

    def _image(self, block: dict[str, Any]) -> None:
        title = plain(block.get("title"))
        self.lines.append(f"[image: {block.get('alt_text', '')}] {block.get('image_url', '')}"
                          + (f" ({title})" if title else ""))

    def _actions(self, block: dict[str, Any]) -> None:
        self.lines.append("  ".join(self._element(block, e) for e in block.get("elements") or []))

    def _input(self, block: dict[str, Any]) -> None:
        element = block.get("element") or {}
        optional = " (optional)" if block.get("optional") else ""
        self.lines.append(f"{plain(block.get('label'))}{optional}: <{element.get('type', 'input')}>")
        hint = plain(block.get("hint"))
        if hint:
            self.lines.append(f"  ({hint})")
        options = list(element_options(element))
        if options:
            self.lines.append("  " + "  ".join(f"{i}) {plain(o.get('text'))}" for i, o in enumerate(options, 1)))

    def _rich_text(self, block: dict[str, Any]) -> None:
        for element in block.get("elements") or []:
            self.lines.extend(_rich(element))

    def _file(self, block: dict[str, Any]) -> None:
        self.lines.append(f"[file {block.get('external_id', '')}]")

    def _attachment(self, attachment: dict[str, Any]) -> None:
        inner = _Layout(self._next)
        inner.message(attachment)
        for item in attachment.get("fields") or []:
            inner.lines.append(f"  {item.get('title', '')}: {mrkdwn(str(item.get('value', '')))}")
        self.lines.extend(f"| {line}" for line in inner.lines)
        self.actions.extend(inner.actions)
        self._next = inner._next

    # ---- interactive elements --------------------------------------------------------------------------------
    def _element(self, block: dict[str, Any], element: dict[str, Any]) -> str:
        kind = element.get("type", "")
        if "action_id" not in element:
            return f"<{kind}>"
        label = plain(element.get("text") or element.get("placeholder")) or kind
        ref = ActionRef(self._next, element["action_id"], element.get("value"), block.get("block_id", ""), label,
                        kind, element.get("style"), element.get("url"), tuple(element_options(element)))
        self._next += 1
        self.actions.append(ref)
        shown = f"[{ref.number}] {label}"
        if ref.style:
            shown += f" ({ref.style})"
        if ref.url:
            shown += f" -> {ref.url}"
        if ref.options:
            shown += " v (" + ", ".join(plain(o.get("text")) for o in ref.options) + ")"
        elif kind != "button":
            shown += f" <{kind}>"
        return shown


def _field(text: str) -> str:
    """"*Label*\\nvalue" fields read as "Label: value"."""
    head, _, rest = text.partition("\n")
    if rest and re.fullmatch(r"\*[^*]+\*", head.strip()):
        return f"{head.strip()[1:-1]}: {' '.join(rest.split())}"
    return " ".join(text.split())


def element_options(element: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def _rich(element: dict[str, Any]) -> list[str]:
    kind = element.get("type")
    if kind == "rich_text_list":
        bullet = "1." if element.get("style") == "ordered" else "-"
        indent = "  " * int(element.get("indent", 0))
        return [f"{indent}{bullet} {' '.join(_rich(item))}" for item in element.get("elements") or []]
    if kind == "rich_text_preformatted":
        return ["```", *_inline(element).splitlines(), "```"]
    if kind == "rich_text_quote":
        return [f"> {line}" for line in _inline(element).splitlines()]
    return _inline(element).splitlines() or [""]


def _inline(element: dict[str, Any]) -> str:
    parts = []
    for item in element.get("elements") or []:
        kind = item.get("type")
        if kind == "text":
            style = item.get("style") or {}
            text = item.get("text", "")
            parts.append(f"*{text}*" if style.get("bold") else f"`{text}`" if style.get("code") else text)
        elif kind == "link":
            parts.append(f"{item['text']} ({item['url']})" if item.get("text") else item.get("url", ""))
        elif kind == "user":
            parts.append(f"@{item.get('user_id', '')}")
        elif kind == "channel":
            parts.append(f"#{item.get('channel_id', '')}")
        elif kind == "emoji":
            parts.append(f":{item.get('name', '')}:")
        else:
            parts.append(item.get("text", ""))
    return "".join(parts)
