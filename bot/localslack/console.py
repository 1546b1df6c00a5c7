"""A terminal in place of the Slack client: type slash commands, see what Slack would show, press buttons, fill modals.
The same line syntax (HELP) serves the interactive loop and scripts (`python -m bot console -c/--script`)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from datetime import datetime
from pathlib import Path
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
import pyotp

from bot.atomic_file import write_atomically
from bot.localslack.fake_api import FakeSlack, SlackCall
from bot.localslack.render import ActionRef, collect_actions, plain, render_message, render_view
from bot.localslack.sender import InputField, SlackSender, element_value, find_element, input_fields

HELP = """\
    /cmd text          a slash command, as the current user in the current channel
    N  or  press N     press the element numbered N (buttons, selects and overflow menus are numbered as shown)
    press LABEL        press the most recently shown element with that label (e.g. "press Confirm")
    input VALUE        (scripts) the answer to the console's next question: a modal input, or the option of a
                       select; "input" alone answers empty. A select accepts an option's number, text or value.
    cancel             (scripts) close the modal being filled instead of answering; typed: ":cancel" (or :close)
    :user U123         act as another Slack user          :channel C123   type in another channel
    :close             close the top modal                :show           show the channel's messages again
    :code              what your authenticator app would show now, for the key /mfa enroll gave you here
                       (also at a question, e.g. the code prompt; in scripts "input :code" answers with it)
    :reset             start afresh: the console's database and the emulator's SIMs, orders and rules together
    :traffic SIM MB    a device on SIM (IMSI or name) uses MB now (emulator): alert rules it crosses fire
    :device SIM offline|online   the device on SIM goes quiet or comes back (its session ends or opens)
    :device SIM [sms]  the device's state, or the SMS it received
    :home              open the bot's Home tab (the fleet dashboard); its buttons are numbered like any
    :help              this text                          :quit           leave (EOF too)
    # comment          ignored, as are blank lines
When a modal with inputs opens, the console asks each input in turn and submits; errors the app answers
(`response_action: errors`) are shown and the inputs they name asked again.
"""
CANCEL_WORDS = (":cancel", ":close", ":quit")
OTPAUTH_URI = re.compile(r"otpauth://totp/[^\s`\"<>|]+")


@dataclass(frozen=True)
class _Pressable:
    ref: ActionRef
    container: str  # "message", "ephemeral" or "view"
    channel: str = ""
    ts: str = ""
    view_id: str = ""
    recipient: str = ""


class _NoAnswer(Exception):
    """The script has no answer for the console's question."""


class _Cancelled(Exception):
    """The person closed the modal (or the select) instead of answering."""


class Console:
    def __init__(self, sender: SlackSender, fake: FakeSlack, settle: Callable[[], Awaitable[None]], *,
                 user_id: str = "U_LOCAL", channel_id: str = "C_LOCAL", out: TextIO = sys.stdout,
                 input_func: Callable[[str], str] = input, banner: str | None = None,
                 traffic: Callable[[str, int], Awaitable[str]] | None = None,
                 device: Callable[[str, str], Awaitable[str]] | None = None,
                 authenticator: Path | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.sender, self.fake, self.settle = sender, fake, settle
        self.user_id, self.channel_id = user_id, channel_id
        self.out, self.input_func, self.banner = out, input_func, banner
        self.traffic = traffic
        self.device = device
        self._pressables: dict[int, _Pressable] = {}
        self._next_number = 1
        self._seen_calls = len(fake.calls)
        self._script: list[str] | None = None
        # The phone the console plays keeps its keys across restarts, as the console's database keeps enrollments.
        self.authenticator = authenticator
        self.reset_requested = False
        self.now = now  # the bot's clock, which its code checks use; the wall clock when None

    # ---- entry points ----------------------------------------------------------------------------------------
    async def run_interactive(self) -> None:
        if self.banner:
            self._say(self.banner)
        while True:
            try:
                line = await self._read(f"{self.user_id} #{self.channel_id}> ")
            except EOFError:
                self._say("")
                return
            try:
                if not await self.run_line(line):
                    return
            except Exception as exc:  # noqa: BLE001 - one failed line must not end a person's session
                self._say(f"! {type(exc).__name__}: {exc}")

    async def run_script(self, lines: Iterable[str]) -> list[str]:
        """Runs the lines; returns those left when one ended the console (:quit, :reset)."""
        self._script = list(lines)
        try:
            while self._script:
                line = self._script.pop(0)
                if line.strip() and not line.lstrip().startswith("#"):
                    self._say(f"> {line}")
                if not await self.run_line(line):
                    return self._script
            return []
        finally:
            self._script = None

    async def run_line(self, line: str) -> bool:
        """Runs one line; False when the console should stop."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if line.startswith("/"):
            await self._command(word, rest)
        elif line.isdigit() or word == "press":
            await self._press(line if line.isdigit() else rest)
        elif word in (":quit", ":q", ":exit"):
            return False
        elif word == ":reset":
            self.reset_requested = True
            self._say("(starting afresh: a new database and the emulator's seed data)")
            return False
        elif word == ":help":
            self._say(HELP)
        elif word == ":user" and rest:
            self.user_id = rest
            self._say(f"(you are now {rest})")
        elif word == ":channel" and rest:
            self.channel_id = rest
            self._say(f"(typing in #{rest})")
        elif word == ":close":
            await self._close_top_modal()
        elif word == ":code":
            self._say(self._authenticator_code())
        elif word == ":traffic":
            await self._traffic(rest)
        elif word == ":device":
            await self._device(rest)
        elif word == ":home":
            self._show_reply(await self.sender.event({"type": "app_home_opened", "user": self.user_id, "tab": "home"}))
            await self._after_request()
        elif word == ":show":
            for message in self.fake.messages(self.channel_id):
                self._show_message(f"#{self.channel_id}", message, "message", self.channel_id)
        elif word in ("input", "cancel"):
            self._say("(no question is waiting for an answer)")
        else:
            self._say(f"(not understood: {line!r}; type :help)")
        return True

    async def _traffic(self, rest: str) -> None:
        parts = rest.split()
        if len(parts) != 2 or not parts[1].isdigit() or self.traffic is None:
            self._say("(type :traffic SIM MB, e.g. :traffic sensor-01 150; the embedded emulator only)")
            return
        self._say(await self.traffic(parts[0], int(parts[1])))
        await self._after_request()

    async def _device(self, rest: str) -> None:
        parts = rest.split()
        if not 1 <= len(parts) <= 2 or self.device is None:
            self._say("(type :device SIM offline|online|sms, e.g. :device sensor-02 offline; the embedded emulator "
                      "only)")
            return
        self._say(await self.device(parts[0], parts[1] if len(parts) == 2 else ""))
        await self._after_request()

    def _authenticator_code(self) -> str:
        """Plays the user's phone: the current code of the newest otpauth URI the bot showed this user."""
        code = self._current_code()
        return f"(your authenticator shows {code})" if code else "(no authenticator here yet: run /mfa enroll first)"

    def _current_code(self) -> str | None:
        label = f"SORACOM%20Bot:{self.user_id}?"
        uris = [uri for call in self.fake.calls for uri in OTPAUTH_URI.findall(json.dumps(call.args)) if label in uri]
        uri = uris[-1] if uris else self._kept_keys().get(self.user_id)
        authenticator = pyotp.parse_uri(uri) if uri else None
        if not isinstance(authenticator, pyotp.TOTP):
            return None
        return authenticator.at(self.now()) if self.now else authenticator.now()

    def _kept_keys(self) -> dict[str, str]:
        if self.authenticator is None or not self.authenticator.exists():
            return {}
        try:
            keys = json.loads(self.authenticator.read_text(encoding="utf-8"))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}

    def _keep_keys(self, call: SlackCall) -> None:
        """Remembers the newest key each user was shown, as an authenticator app would once it is added there."""
        if self.authenticator is None:
            return
        shown = {}
        for uri in OTPAUTH_URI.findall(json.dumps(call.args)):
            user = re.match(r"otpauth://totp/SORACOM%20Bot:([^?]+)\?", uri)
            if user:
                shown[user.group(1)] = uri
        kept = self._kept_keys()
        if shown and any(kept.get(user) != uri for user, uri in shown.items()):
            write_atomically(self.authenticator, json.dumps({**kept, **shown}).encode())

    # ---- actions ---------------------------------------------------------------------------------------------
    async def _command(self, command: str, text: str) -> None:
        response = await self.sender.command(command, text, user_id=self.user_id, channel_id=self.channel_id)
        self._show_reply(response)
        await self._after_request()

    async def _press(self, which: str) -> None:
        target = self._find_pressable(which)
        if target is None:
            self._say(f"(no button {which!r} on screen)")
            return
        value = target.ref.value
        if target.ref.options:
            try:
                value = await self._choose_option(target.ref)
            except (_NoAnswer, _Cancelled):
                self._say("(nothing chosen)")
                return
        container = self._current_container(target)
        if container is None or find_element(container.get("blocks") or [], target.ref.action_id,
                                             target.ref.block_id) is None:
            self._say(f"(that {'modal' if target.container == 'view' else 'message'} no longer shows it)")
            return
        if target.container in ("view", "home"):
            response = await self.sender.block_action(target.ref.action_id, value, user_id=self.user_id,
                                                      view=container, block_id=target.ref.block_id)
        else:
            response = await self.sender.block_action(target.ref.action_id, value, user_id=self.user_id,
                                                      channel_id=target.channel, message=container,
                                                      block_id=target.ref.block_id)
        self._show_reply(response)
        await self._after_request()

    async def _choose_option(self, ref: ActionRef) -> str:
        for i, option in enumerate(ref.options, 1):
            self._say(f"  {i}) {plain(option.get('text'))}")
        while True:
            answer = await self._ask(f"{ref.label} [1-{len(ref.options)}]: ")
            try:
                return element_value({"type": "static_select", "options": list(ref.options)},
                                     answer)["selected_option"]["value"]
            except ValueError as exc:
                self._say(f"  ! {exc}")

    def _find_pressable(self, which: str) -> _Pressable | None:
        if which.isdigit():
            return self._pressables.get(int(which))
        wanted = which.casefold()
        return next((p for _, p in sorted(self._pressables.items(), reverse=True)
                     if p.ref.label.casefold() == wanted), None)

    def _current_container(self, target: _Pressable) -> dict[str, Any] | None:
        if target.container == "view":
            return self.fake.views.get(target.view_id)
        if target.container == "home":
            return self.fake.homes.get(target.recipient)
        if target.container == "ephemeral":
            return next((m for m in self.fake.ephemerals(target.recipient) if m["ts"] == target.ts), None)
        return self.fake.message(target.channel, target.ts)

    async def _close_top_modal(self) -> None:
        views = self.fake.views
        if not views:
            self._say("(no modal is open)")
            return
        view = list(views.values())[-1]
        if view.get("notify_on_close"):
            await self.sender.view_closed(view, user_id=self.user_id)
            await self._after_request()
        else:
            self.fake.apply_response_action(view["id"], None)
            self._show_new_calls()

    # ---- after each request: what a person would now see, and the modal to fill ----------------------------
    async def _after_request(self) -> None:
        await self.settle()
        modal = self._show_new_calls()
        while modal is not None:
            modal = await self._fill_modal(modal)

    def _show_new_calls(self) -> str | None:
        """Prints what changed; returns the id of a just-opened modal that has inputs to fill."""
        calls = self.fake.calls
        if len(calls) < self._seen_calls:  # the fake was cleared
            self._seen_calls = 0
        fresh, self._seen_calls = calls[self._seen_calls:], len(calls)
        # Slack shows the ack's reply as the app answers, before whatever its listener does next.
        fresh.sort(key=lambda call: call.method != "command_response")
        modal = None
        for call in fresh:
            self._keep_keys(call)
            modal = self._show_call(call) or modal
        return modal if modal in self.fake.views else None

    def _show_call(self, call: SlackCall) -> str | None:
        if not call.ok:
            self._say(f"! {call.method} failed: {call.response.get('error')}")
            return None
        effect = call.effect
        if effect is None:
            return None
        kind = effect["kind"]
        where = f"#{effect.get('channel', '')}"
        if kind in ("view_open", "view_update"):
            view = effect["view"]
            self._say(f"--- modal {'opened' if kind == 'view_open' else 'updated'} ---")
            self._show_view(view)
            return view["id"] if input_fields(view) else None
        if kind == "home":
            if effect["user"] == self.user_id:
                self._say("--- Home tab ---")
                self._say(_indent(render_view(effect["view"], self._next_number)))
                for ref in collect_actions(effect["view"], self._next_number):
                    self._pressables[ref.number] = _Pressable(ref, "home", recipient=effect["user"])
                    self._next_number = ref.number + 1
        elif kind == "view_close":
            self._say(f"--- modal closed: {effect['title']} ---")
        elif kind == "delete":
            self._say(f"--- {where}: message {effect['ts']} deleted ---")
        elif kind == "ephemeral" or (kind == "update" and effect.get("ephemeral")):
            recipient = effect.get("user") or self.user_id
            who = "you" if recipient == self.user_id else recipient
            label = "only visible to " + who + (", updated" if kind == "update" else "")
            self._show_message(f"{where} ({label})", effect["message"], "ephemeral", effect["channel"], recipient)
        else:
            label = {"message": "", "update": " (updated)", "file": " (file)"}[kind]
            self._show_message(f"{where}{label}", effect["message"], "message", effect["channel"])
        return None

    def _show_message(self, heading: str, message: dict[str, Any], container: str, channel: str,
                      recipient: str = "") -> None:
        self._say(f"--- {heading} ---")
        self._say(_indent(render_message(message, self._next_number)))
        for ref in collect_actions(message, self._next_number):
            self._pressables[ref.number] = _Pressable(ref, container, channel, message.get("ts", ""),
                                                      recipient=recipient)
            self._next_number = ref.number + 1

    def _show_view(self, view: dict[str, Any]) -> None:
        self._say(_indent(render_view(view, self._next_number)))
        for ref in collect_actions(view, self._next_number):
            self._pressables[ref.number] = _Pressable(ref, "view", view_id=view["id"])
            self._next_number = ref.number + 1

    def _show_reply(self, response: httpx.Response) -> None:
        """Only failures: an ack's text or blocks reach the fake (see SlackSender.command) and show from there."""
        if response.status_code != 200:
            self._say(f"! the app answered HTTP {response.status_code}: {response.text[:200]}")

    # ---- modals ----------------------------------------------------------------------------------------------
    async def _fill_modal(self, view_id: str) -> str | None:
        """Asks the inputs, submits, re-asks on errors; returns the next modal to fill (update/push), if any."""
        answers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        while (view := self.fake.views.get(view_id)) is not None:
            fields = input_fields(view)
            asked = [f for f in fields if f.block_id in errors] or fields
            try:
                for field in asked:
                    answers[field.block_id] = await self._ask_field(field, errors.get(field.block_id))
            except _NoAnswer:
                self._say("(the modal stays open: no answer given; :close closes it)")
                return None
            except _Cancelled:
                await self._close_top_modal()
                return None
            response = await self.sender.view_submission(view, answers=answers, user_id=self.user_id)
            self._show_reply(response)
            body = _json(response)
            errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
            if body.get("response_action") != "errors" or not errors:
                await self.settle()
                return self._show_new_calls()
            self._say("--- the modal shows errors ---")
            for block_id in errors.keys() - {f.block_id for f in fields}:
                self._say(f"  ! {block_id}: {errors[block_id]}")
        return None

    async def _ask_field(self, field: InputField, error: str | None) -> str | None:
        """A person's answer to one input: None leaves it empty (or at its initial value)."""
        if error:
            self._say(f"  ! {field.label}: {error}")
        prompt = field.label + (" (optional)" if field.optional else "")
        if field.options:
            several = ", several with commas" if field.kind.startswith("multi") or field.kind == "checkboxes" else ""
            prompt += f" [1-{len(field.options)}{several}]"
        while True:
            answer = (await self._ask(f"{prompt}: ")) or None
            if answer is None and not field.optional and not _has_initial(field.element):
                self._say("  ! this input is required")
                continue
            try:
                element_value(field.element, answer)
            except ValueError as exc:
                self._say(f"  ! {exc}")
                continue
            return answer

    async def _ask(self, prompt: str) -> str:
        """The next answer: typed, or the script's next `input` line. Raises _Cancelled or _NoAnswer."""
        if self._script is None:
            while True:
                try:
                    answer = (await self._read(prompt)).strip()
                except EOFError:
                    raise _Cancelled from None
                if answer in CANCEL_WORDS:
                    raise _Cancelled
                if answer != ":code":
                    return answer
                self._say(self._authenticator_code())  # a glance at the phone, then the question again
        word, _, rest = (self._script[0].strip() if self._script else "").partition(" ")
        if word not in ("input", "cancel", *CANCEL_WORDS):
            raise _NoAnswer
        self._script.pop(0)
        if word != "input":
            self._say(f"{prompt}(cancel)")
            raise _Cancelled
        answer = rest.strip()
        if answer == ":code":  # a script cannot read the phone: the code it shows now is the answer
            answer = self._current_code() or ""
        self._say(f"{prompt}{answer}")
        return answer

    async def _read(self, prompt: str) -> str:
        """A typed line, read in a thread of its own: meanwhile the loop serves pages, buttons and the scheduler."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def hand_over(value: str | None, error: BaseException | None) -> None:
            if line.done():
                return
            if error is not None:
                line.set_exception(error)
            else:
                line.set_result(value or "")

        def read() -> None:
            try:
                value = self.input_func(prompt)
            except BaseException as exc:  # noqa: BLE001 - EOF and Ctrl-C belong to the loop's side
                loop.call_soon_threadsafe(hand_over, None, exc)
            else:
                loop.call_soon_threadsafe(hand_over, value, None)

        # A daemon thread: a console left at its prompt must not keep the process alive after Ctrl-C.
        threading.Thread(target=read, name="console-input", daemon=True).start()
        return await line

    def say(self, text: str) -> None:
        self._say(text)

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def _has_initial(element: dict[str, Any]) -> bool:
    return any(key.startswith("initial_") for key in element)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content) if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
