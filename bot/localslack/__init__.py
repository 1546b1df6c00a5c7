"""The local Slack stand-in: a fake Web API over real HTTP, a signed-request sender, Block Kit text rendering
and an interactive console. Used by `python -m bot console` and by the tests."""

from bot.localslack.fake_api import FakeFile, FakeSlack, SlackCall
from bot.localslack.sender import InputField, SlackSender, input_fields, input_values, sign_request

__all__ = ["FakeFile", "FakeSlack", "InputField", "SlackCall", "SlackSender", "input_fields", "input_values",
           "sign_request"]
