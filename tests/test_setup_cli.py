"""`soracom-bot setup …` against the emulator in-process: each subcommand, checked on what the emulator holds."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from bot.config import Settings
from bot.emulator import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    DEMO_EMAIL,
    DEMO_OPERATOR_ID,
    DEMO_PASSWORD,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    create_app,
)
from bot.emulator.operations import OPERATIONS as EMULATOR_OPERATIONS
from bot.emulator.policy import is_allowed
from bot.runtime import EMBEDDED_EMULATOR_ENDPOINT
from bot.services import account
from bot.setup_cli import SANDBOX_NOTICE, Terminal, main, write_env
from bot.soracom import AuthKeyCredentials, PermissionDenied, SoracomClient
from bot.soracom import client as client_module
from bot.soracom.operations import OPERATIONS
from tests.clock import Clock

ROOT = Path(__file__).resolve().parents[1]
BOT_USER = account.DEFAULT_BOT_USER
NEW_EMAIL = "new-operator@example.jp"


class Cli:
    """Runs the CLI on one emulator with scripted answers; remembers every secret it typed."""

    def __init__(self, state: EmulatorState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.transport = httpx.ASGITransport(app=create_app(state))
        self.typed_secrets: list[str] = []

    def run(self, *argv: str, answers: tuple[str, ...] = (), secrets: tuple[str, ...] = (),
            settings: Settings | None = None) -> int:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.prompts: list[str] = []
        pending, pending_secrets = list(answers), list(secrets)
        self.typed_secrets.extend(secrets)

        def ask(prompt: str) -> str:
            self.prompts.append(prompt)
            if not pending:
                raise EOFError
            return pending.pop(0)

        def ask_secret(prompt: str) -> str:
            self.prompts.append(prompt)
            if not pending_secrets:
                raise EOFError
            return pending_secrets.pop(0)

        terminal = Terminal(self.out, self.err, ask, ask_secret)
        code = main(list(argv), terminal=terminal, settings=settings or self.settings, transport=self.transport)
        assert not pending and not pending_secrets, "the CLI asked fewer questions than scripted"
        return code

    @property
    def stdout(self) -> str:
        return self.out.getvalue()

    @property
    def stderr(self) -> str:
        return self.err.getvalue()

    def credentials(self) -> Settings:
        """Settings with the demo operator's AuthKey, pointed at this emulator: the CLI's 'real' mode."""
        return self.settings.model_copy(update={
            "SORACOM_AUTH_KEY_ID": DEMO_AUTH_KEY_ID, "SORACOM_AUTH_KEY": DEMO_AUTH_KEY,
            "SORACOM_ENDPOINT": EMBEDDED_EMULATOR_ENDPOINT})


def held_secrets(state: EmulatorState) -> set[str]:
    """Every secret the emulator holds now: tokens, API keys, AuthKeys, passwords, MFA secrets and codes."""
    found = {s.token for s in state.sessions.values()} | {s.api_key for s in state.sessions.values()}
    found |= {op["password"] for op in state.operators.values()}
    for owner in [*state.operators.values(), *state.users.values()]:
        found |= {key["authKey"] for key in owner["authKeys"].values()}
    for mfa in state.operator_mfa.values():
        found |= {mfa["secret"], *mfa["backupCodes"]} - {None}
    found |= set(state.signup_tokens.values()) | set(state.password_reset_tokens.values())
    return {value for value in found if value}


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState(now=Clock())


@pytest.fixture
def cli(state: EmulatorState, settings: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[Cli]:
    caplog.set_level(logging.DEBUG)
    runner = Cli(state, settings)
    yield runner
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in caplog.get_records("call"))
    assert logged or not state.requests, "nothing was logged: the check below would prove nothing"
    leaked = [s for s in held_secrets(state) | set(runner.typed_secrets) if s in logged]
    assert not leaked, "a secret reached the log"


def calls(state: EmulatorState, operation_id: str) -> list:
    return [r for r in state.requests if r.operation_id == operation_id]


# login


def test_login_prints_operator_coverage_endpoint_and_expiry_never_the_token(cli, state):
    assert cli.run("login") == 0
    [session] = state.sessions.values()
    assert session.timeout_seconds == account.SETUP_TOKEN_TIMEOUT
    assert f"operator:    {DEMO_OPERATOR_ID}" in cli.stdout
    assert "coverage:    jp" in cli.stdout
    assert f"endpoint:    {EMBEDDED_EMULATOR_ENDPOINT}" in cli.stdout
    assert re.search(r"token:\s+valid until \d{4}-\d\d-\d\d \d\d:\d\d JST \(60 min\)", cli.stdout)
    assert session.token not in cli.stdout + cli.stderr and session.api_key not in cli.stdout + cli.stderr
    assert SANDBOX_NOTICE in cli.stderr


def test_login_with_root_credentials_names_them_without_the_password(cli, state, settings):
    root = settings.model_copy(update={"SORACOM_EMAIL": DEMO_EMAIL, "SORACOM_PASSWORD": DEMO_PASSWORD,
                                       "SORACOM_COVERAGE": "g", "SORACOM_ENDPOINT": EMBEDDED_EMULATOR_ENDPOINT})
    assert cli.run("login", settings=root) == 0
    assert calls(state, "auth")[0].json["email"] == DEMO_EMAIL
    assert f"root user (root user {DEMO_EMAIL})" in cli.stdout
    assert "coverage:    g (SORACOM_ENDPOINT overrides it)" in cli.stdout
    assert DEMO_PASSWORD not in cli.stdout + cli.stderr
    assert SANDBOX_NOTICE not in cli.stderr


def test_refused_credentials_are_one_error_line_with_the_api_code(cli, settings):
    wrong = settings.model_copy(update={"SORACOM_AUTH_KEY_ID": DEMO_AUTH_KEY_ID, "SORACOM_AUTH_KEY": "wrong-key",
                                        "SORACOM_ENDPOINT": EMBEDDED_EMULATOR_ENDPOINT})
    assert cli.run("login", settings=wrong) == 1
    assert cli.stderr.strip() == "error: AUM0004 Authentication failed: invalid credentials."
    assert "wrong-key" not in cli.stdout + cli.stderr


# sign-up and password reset


def test_signup_prompts_the_password_twice_then_verify_activates_the_operator(cli, state):
    assert cli.run("signup", NEW_EMAIL, secrets=("first-Pass-1", "first-Pass-1")) == 0
    operator = state.operator_by_email(NEW_EMAIL)
    assert operator is not None and operator["verified"] is False and operator["password"] == "first-Pass-1"
    assert cli.prompts == ["Password: ", "Password again: "]
    assert "first-Pass-1" not in cli.stdout + cli.stderr

    assert cli.run("verify", state.signup_tokens[NEW_EMAIL]) == 0
    assert operator["verified"] is True
    assert "verified" in cli.stdout


def test_signup_with_differing_passwords_sends_nothing(cli, state):
    assert cli.run("signup", NEW_EMAIL, secrets=("one-Pass-1", "two-Pass-2")) == 1
    assert "the two passwords differ" in cli.stderr
    assert state.operator_by_email(NEW_EMAIL) is None and not calls(state, "createOperator")


def test_signup_where_the_endpoint_dropped_it_says_so(cli, state):
    state.faults.fail_next("POST", r"/v1/operators$", status=404,
                           body={"code": "COM0004", "message": "No such API"})
    assert cli.run("signup", NEW_EMAIL, secrets=("a-Pass-1", "a-Pass-1")) == 1
    assert "does not offer sign-up" in cli.stderr and "console.soracom.io" in cli.stderr
    assert state.operator_by_email(NEW_EMAIL) is None


def test_verify_with_a_bad_token_prints_the_api_code(cli):
    assert cli.run("verify", "not-a-token") == 1
    assert cli.stderr.splitlines()[-1] == "error: COM0006 Token is invalid."


def test_password_reset_issue_then_verify_sets_the_new_password(cli, state):
    assert cli.run("password-reset", "issue", DEMO_EMAIL) == 0
    token = state.password_reset_tokens[DEMO_EMAIL]
    assert cli.run("password-reset", "verify", token, secrets=("new-Pass-2", "new-Pass-2")) == 0
    assert state.operators[DEMO_OPERATOR_ID]["password"] == "new-Pass-2"
    assert DEMO_EMAIL not in state.password_reset_tokens
    assert "new-Pass-2" not in cli.stdout + cli.stderr


# payer information


def test_payer_info_set_by_prompts_keeps_and_clears_values(cli, state):
    state.payer_information = {"companyName": "Old Co", "department": "Old Dept", "fullName": "Old Name"}
    assert cli.run("payer-info", "set", answers=("New Co", "-", "")) == 0
    assert state.payer_information == {"companyName": "New Co", "fullName": "Old Name"}
    assert cli.prompts == ["Company name [Old Co]: ", "Department [Old Dept]: ", "Full name [Old Name]: "]


def test_payer_info_set_by_flags_keeps_the_others_and_show_prints_them(cli, state):
    state.payer_information = None
    assert cli.run("payer-info", "show") == 0
    assert "No payer information is registered" in cli.stdout
    assert cli.run("payer-info", "set", "--company-name", "株式会社サンプル", "--full-name", "山田太郎") == 0
    assert cli.run("payer-info", "set", "--department", "IoT Platform") == 0
    assert state.payer_information == {"companyName": "株式会社サンプル", "department": "IoT Platform",
                                       "fullName": "山田太郎"}
    assert not cli.prompts
    assert cli.run("payer-info", "show") == 0
    assert cli.stdout.splitlines() == ["Company name: 株式会社サンプル", "Department:   IoT Platform",
                                       "Full name:    山田太郎"]


# shipping addresses

SEED_FIELDS = {"zip-code": "141-0022", "state": "東京都", "city": "品川区", "address-line1": "東五反田 1-2-3",
               "building": "サンプルビル 8階", "company-name": "株式会社サンプル", "department": "IoT Platform",
               "full-name": "山田太郎", "phone-number": "03-0000-0000"}


def test_shipping_address_add_by_flags_list_and_delete(cli, state):
    flags = [part for name, value in SEED_FIELDS.items() for part in (f"--{name}", value)]
    assert cli.run("shipping-address", "add", *flags) == 0
    [new_id] = set(state.shipping_addresses) - {SEED_SHIPPING_ADDRESS_ID}
    added = state.shipping_addresses[new_id]
    assert (added["zipCode"], added["addressLine1"], added["phoneNumber"]) == ("141-0022", "東五反田 1-2-3",
                                                                              "03-0000-0000")
    assert added["shippingArea"] == "kanto" and added["countryCode"] == "JP"

    assert cli.run("shipping-address", "list") == 0
    listed = [line.split()[0] for line in cli.stdout.splitlines()]
    assert sorted(listed) == sorted(state.shipping_addresses)

    assert cli.run("shipping-address", "delete", new_id) == 0
    assert new_id not in state.shipping_addresses and SEED_SHIPPING_ADDRESS_ID in state.shipping_addresses


def test_shipping_address_add_by_prompts(cli, state):
    answers = ("", "", "Taro Yamada", "530-0001", "大阪府", "大阪市北区", "梅田 1-1", "", "", "06-0000-0000")
    assert cli.run("shipping-address", "add", answers=answers) == 0
    assert len(cli.prompts) == 10 and cli.prompts[2] == "Full name *: "
    [new_id] = set(state.shipping_addresses) - {SEED_SHIPPING_ADDRESS_ID}
    added = state.shipping_addresses[new_id]
    assert (added["fullName"], added["state"], added["shippingArea"]) == ("Taro Yamada", "大阪府", "kansai")
    assert "companyName" not in added


def test_shipping_address_missing_required_fields_adds_nothing(cli, state):
    assert cli.run("shipping-address", "add", "--full-name", "Taro") == 2
    assert "zipCode" in cli.stderr and "phoneNumber" in cli.stderr
    assert set(state.shipping_addresses) == {SEED_SHIPPING_ADDRESS_ID}
    assert not calls(state, "createShippingAddress")


def test_deleting_an_unknown_address_prints_the_api_code(cli, state):
    assert cli.run("shipping-address", "delete", "no-such-address") == 1
    assert cli.stderr.splitlines()[-1].startswith("error: SHM0002 ")
    assert SEED_SHIPPING_ADDRESS_ID in state.shipping_addresses


# the operator's MFA


def test_mfa_enable_shows_uri_and_qr_then_verify_prints_backup_codes_once(cli, state):
    assert cli.run("mfa", "enable") == 0
    mfa = state.operator_mfa[DEMO_OPERATOR_ID]
    assert mfa["status"] == "UNCONFIRMED"
    uri = f"otpauth://totp/SORACOM:{DEMO_OPERATOR_ID}?secret={mfa['secret']}&issuer=SORACOM"
    assert uri in cli.stdout
    assert sum(1 for line in cli.stdout.splitlines() if "█" in line) > 10  # the QR code, drawn

    assert cli.run("mfa", "verify", "000000" if pyotp.TOTP(mfa["secret"]).at(state.now()) != "000000" else "111111") == 1
    assert cli.stderr.splitlines()[-1].startswith("error: OPM0012 ")
    assert mfa["status"] == "UNCONFIRMED"

    assert cli.run("mfa", "verify", pyotp.TOTP(mfa["secret"]).at(state.now())) == 0
    assert mfa["status"] == "ACTIVE"
    shown = [line.strip() for line in cli.stdout.splitlines() if line.startswith("  ")]
    assert shown == mfa["backupCodes"] and len(shown) == 5
    assert "shown this once" in cli.stdout and "Store them" in cli.stdout

    assert cli.run("mfa", "status") == 0
    assert cli.stdout.strip() == "MFA of the root user: ACTIVE"
    assert not any(code in cli.stdout for code in mfa["backupCodes"])


# the bot's SAM user


def test_bot_user_create_puts_the_bots_policy_and_prints_the_key_once(cli, state):
    assert cli.run("bot-user", "create") == 0
    user = state.users[BOT_USER]
    assert json.loads(user["permission"]) == account.bot_permission_policy()
    [(key_id, key)] = user["authKeys"].items()
    assert f"SORACOM_AUTH_KEY_ID={key_id}\nSORACOM_AUTH_KEY={key['authKey']}\n" in cli.stdout
    assert cli.stdout.count(key["authKey"]) == 1

    async def live() -> None:
        async with SoracomClient(EMBEDDED_EMULATOR_ENDPOINT, AuthKeyCredentials(key_id, key["authKey"]),
                                 transport=cli.transport) as bot:
            assert (await bot.list_subscribers()).items  # a call the bot makes
            assert (await bot.generate_auth_token()).userName == BOT_USER  # its token refresh
            with pytest.raises(PermissionDenied):
                await bot.get_payer_information()  # setup-only
            with pytest.raises(PermissionDenied):
                await bot.create_user("escalate")  # SAM administration

    asyncio.run(live())
    refused = [r for r in state.requests if r.status == 403]
    assert [r.operation_id for r in refused] == ["getPayerInformation", "createUser"]
    assert all(r.identity.user_name == BOT_USER for r in refused)
    assert "escalate" not in state.users


def test_bot_user_create_with_a_name(cli, state):
    assert cli.run("bot-user", "create", "chatops") == 0
    assert "chatops" in state.users and BOT_USER not in state.users


def test_bot_user_create_refuses_an_existing_user(cli, state):
    state.add_user(BOT_USER)
    assert cli.run("bot-user", "create") == 1
    assert cli.stderr.splitlines()[-1].startswith("error: SAM0002 ")
    assert state.users[BOT_USER]["permission"] is None and not state.users[BOT_USER]["authKeys"]


def test_bot_user_left_without_key_is_reported(cli, state):
    state.faults.fail_next("POST", r"/auth_keys$", status=400, body={"code": "SAM0009", "message": "Refused."})
    assert cli.run("bot-user", "create") == 1
    assert "error: SAM0009 Refused." in cli.stderr and f"{BOT_USER} exists now" in cli.stderr


def test_write_env_replaces_old_values_keeps_other_lines_mode_0600(cli, state, tmp_path):
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-1\nSORACOM_AUTH_KEY_ID=old-id\n# keep me\n"
                   "export SORACOM_AUTH_KEY=old-secret\nSORACOM_AUTH_KEY=older-secret\nSORACOM_PASSWORD=x\n")
    env.chmod(0o644)
    assert cli.run("bot-user", "create", "--write-env", str(env), settings=cli.credentials()) == 0
    [(key_id, key)] = state.users[BOT_USER]["authKeys"].items()
    assert env.read_text().splitlines() == [
        "SLACK_BOT_TOKEN=xoxb-1", f"SORACOM_AUTH_KEY_ID={key_id}", "# keep me",
        f"SORACOM_AUTH_KEY={key['authKey']}", "SORACOM_PASSWORD=x"]
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert key_id in cli.stdout and key["authKey"] not in cli.stdout + cli.stderr
    assert "still holds SORACOM_PASSWORD" in cli.stdout
    loaded = Settings(_env_file=str(env))  # type: ignore[call-arg]
    assert (loaded.SORACOM_AUTH_KEY_ID, loaded.SORACOM_AUTH_KEY) == (key_id, key["authKey"])


def test_write_env_creates_the_file(tmp_path):
    env = tmp_path / "new.env"
    others = write_env(env, {"SORACOM_AUTH_KEY_ID": "id", "SORACOM_AUTH_KEY": "secret"})
    assert others == set() and env.read_text() == "SORACOM_AUTH_KEY_ID=id\nSORACOM_AUTH_KEY=secret\n"
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600


def test_write_env_on_the_embedded_emulator_is_refused_before_anything_is_created(cli, state, tmp_path):
    assert cli.run("bot-user", "create", "--write-env", str(tmp_path / ".env")) == 2
    assert "worthless" in cli.stderr and not (tmp_path / ".env").exists()
    assert BOT_USER not in state.users and not calls(state, "createUser")


def test_bot_user_policy_prints_the_policy(cli, state):
    assert cli.run("bot-user", "policy") == 0
    assert json.loads(cli.stdout) == account.bot_permission_policy()
    assert not state.requests


# the policy: every call the bot makes, nothing else


def test_every_registry_operation_is_the_bots_or_setup_only():
    assert set(account.SETUP_ONLY_OPERATIONS) <= set(OPERATIONS), "a setup-only name the client does not know"
    assert set(account.bot_operations()) == set(OPERATIONS) - set(account.SETUP_ONLY_OPERATIONS)


def test_policy_allows_exactly_the_bots_registry_operations():
    [statement] = account.bot_permission_policy()["statements"]
    assert statement["effect"] == "allow"
    expected = {OPERATIONS[op].permission for op in account.bot_operations() if OPERATIONS[op].authenticated}
    assert set(statement["api"]) == expected and len(statement["api"]) == len(expected)
    setup_only = {OPERATIONS[op].permission for op in account.SETUP_ONLY_OPERATIONS}
    assert not setup_only & expected
    assert all("*" not in api for api in statement["api"])


def test_emulator_enforces_the_policy_on_exactly_the_bots_operations():
    permission = json.dumps(account.bot_permission_policy())
    bots = set(account.bot_operations())
    for op in EMULATOR_OPERATIONS:
        if not op.auth:
            continue
        assert is_allowed(permission, op.permission_name) == (op.operation_id in bots), op.operation_id


def _client_operations_by_method() -> dict[str, set[str]]:
    """Each public SoracomClient method → the operations it may send (its own, and via the methods it uses)."""
    tree = ast.parse(Path(client_module.__file__).read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SoracomClient")
    direct: dict[str, set[str]] = {}
    uses: dict[str, set[str]] = {}
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(ast.walk(fn))
        direct[fn.name] = {n.value for n in nodes if isinstance(n, ast.Constant) and n.value in OPERATIONS}
        uses[fn.name] = {n.attr for n in nodes if isinstance(n, ast.Attribute)
                         and isinstance(n.value, ast.Name) and n.value.id == "self"}
    closed: dict[str, set[str]] = {}
    for name in direct:
        seen, todo, ops = set(), [name], set()
        while todo:
            current = todo.pop()
            if current in seen or current not in direct:
                continue
            seen.add(current)
            ops |= direct[current]
            todo.extend(uses[current])
        closed[name] = ops
    return {name: ops for name, ops in closed.items() if not name.startswith("_") and ops}


SETUP_FILES = {ROOT / "bot" / "setup_cli.py", ROOT / "bot" / "services" / "account.py"}
NOT_BOT = (ROOT / "bot" / "soracom", ROOT / "bot" / "emulator")


def _bot_sources() -> Iterator[Path]:
    for folder in (ROOT / "bot", ROOT / "handlers"):
        for path in folder.rglob("*.py"):
            if path not in SETUP_FILES and not any(path.is_relative_to(d) for d in NOT_BOT):
                yield path


def _imports_account_service(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.startswith("bot.services.account") for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return module.startswith("bot.services.account") or (
            module == "bot.services" and any(alias.name == "account" for alias in node.names))
    return False


def test_every_client_call_in_the_bots_code_is_allowed_by_the_policy():
    by_method = _client_operations_by_method()
    assert {"list_subscribers", "iter_subscribers", "confirm_order"} <= set(by_method)
    allowed = set(account.bot_operations())
    called: dict[str, set[str]] = {}
    for path in _bot_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            assert not _imports_account_service(node), f"{path} uses the setup-only account service"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in by_method:
                called.setdefault(node.func.attr, set()).add(str(path.relative_to(ROOT)))
    assert called, "the scan found no SORACOM call at all"
    refused = {f"{method} ({', '.join(sorted(where))})": sorted(by_method[method] - allowed)
               for method, where in called.items() if by_method[method] - allowed}
    assert not refused, f"the bot calls operations its SAM policy refuses: {refused}"


# the command line itself


def test_no_arguments_prints_usage_and_help_is_fine(cli, state):
    assert cli.run() == 2
    assert "bot-user" in cli.stdout and "shipping-address" in cli.stdout
    assert cli.run("help") == 0
    assert cli.run("mfa") == 2
    assert "ACTION" in cli.stderr
    assert not state.requests


def test_ended_input_stops_before_anything_is_sent(cli, state):
    assert cli.run("shipping-address", "add", answers=("Co",)) == 1
    assert "input ended" in cli.stderr
    assert not calls(state, "createShippingAddress")
