"""The message catalogue: every language matches English id for id and placeholder for placeholder."""

from __future__ import annotations

import importlib
import pkgutil
import re
import string
from pathlib import Path

import pytest

import bot.messages
from bot.messages import DEFAULT_LANG, Entry, Plural, babel_locale, catalogue

ROOT = Path(__file__).resolve().parents[1]
MESSAGES_DIR = Path(bot.messages.__file__).parent
LANGUAGES = sorted(p.name for p in MESSAGES_DIR.iterdir() if (p / "__init__.py").is_file())
OTHER_LANGUAGES = [lang for lang in LANGUAGES if lang != DEFAULT_LANG]

# Literal ids handed to the catalogue: t("id", …), InputError("id", …) and usage_id="id".
# Ids built at run time (f-strings) cannot be checked here and are left out.
USED_ID = re.compile(r"""(?:\bt\(|\bInputError\(|\busage_id=)\s*(["'])([a-z]+\.[\w.-]+)\1""")
# The emulator's API errors are not user text of the bot.
SKIPPED_DIRS = {"messages", "emulator"}


def forms(entry: Entry) -> list[str]:
    """The texts of an entry: itself, or each of its plural forms."""
    return list(entry.forms.values()) if isinstance(entry, Plural) else [entry]


def fields(entry: Entry) -> set[tuple[str, str, str | None]]:
    """Every {field} of a text (of any of its plural forms) with its format spec and conversion."""
    return {(name, spec or "", conversion) for text in forms(entry)
            for _, name, spec, conversion in string.Formatter().parse(text) if name is not None}


def is_template(text: Entry) -> bool:
    """t() formats a text only when given values, and those are keyword arguments: identifiers."""
    return any(name.isidentifier() for name, _, _ in fields(text))


def module_names(lang: str) -> set[str]:
    return {m.name for m in pkgutil.iter_modules([str(MESSAGES_DIR / lang)])}


def dummy_values(text: Entry) -> dict[str, object]:
    """A value for each field that suits its format spec (`{qty:,}` needs a number)."""
    return {name: 1234 if spec else "x" for name, spec, _ in fields(text)}


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_language_has_the_modules_of_english(lang: str) -> None:
    assert module_names(lang) == module_names(DEFAULT_LANG)


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_each_module_holds_the_ids_of_its_english_module(lang: str) -> None:
    for name in module_names(DEFAULT_LANG) & module_names(lang):
        english = importlib.import_module(f"bot.messages.{DEFAULT_LANG}.{name}").MESSAGES
        translated = importlib.import_module(f"bot.messages.{lang}.{name}").MESSAGES
        assert set(translated) == set(english), name


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_language_has_exactly_the_ids_of_english(lang: str) -> None:
    english, translated = catalogue(DEFAULT_LANG), catalogue(lang)
    assert sorted(english.keys() - translated.keys()) == [], "missing"
    assert sorted(translated.keys() - english.keys()) == [], "not in English"


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_texts_keep_the_placeholders_of_english(lang: str) -> None:
    english, translated = catalogue(DEFAULT_LANG), catalogue(lang)
    differing = {mid: (sorted(fields(english[mid])), sorted(fields(translated[mid])))
                 for mid in english.keys() & translated.keys() if fields(english[mid]) != fields(translated[mid])}
    assert differing == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_are_non_empty_strings(lang: str) -> None:
    bad = [mid for mid, entry in catalogue(lang).items()
           if not isinstance(entry, (str, Plural)) or not all(isinstance(f, str) and f.strip() for f in forms(entry))]
    assert bad == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_are_the_categories_of_the_language(lang: str) -> None:
    """A form the language's plural rules never choose would be dead text; `other` is always there."""
    categories = babel_locale(lang).plural_form.tags | {"other"}
    plurals = {mid: entry for mid, entry in catalogue(lang).items() if isinstance(entry, Plural)}
    assert {mid: sorted(e.forms.keys() - categories) for mid, e in plurals.items() if e.forms.keys() - categories} == {}
    assert [mid for mid, e in plurals.items() if e.by not in {name for name, _, _ in fields(e.forms["other"])}] == []


def test_english_counts_have_a_singular() -> None:
    """English says "1 SIM": a text that puts a noun after a count has a `one` form."""
    counted = re.compile(r"\{(\w+)[^}]*\} (SIM|product|group|namespace|code|tr(y|ies)|action|card)s?\b")
    lacking = [mid for mid, entry in catalogue(DEFAULT_LANG).items()
               if not isinstance(entry, Plural) and any(counted.search(text) for text in forms(entry))]
    assert lacking == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_templates_format_with_values(lang: str) -> None:
    failures = {}
    for mid, entry in catalogue(lang).items():
        if not is_template(entry):
            continue
        try:
            for text in forms(entry):
                text.format(**dummy_values(entry))
        except (KeyError, IndexError, ValueError) as exc:
            failures[mid] = repr(exc)
    assert failures == {}


# Slack rejects a modal whose title, submit or close text is over 24 characters, and a button text over 75.
MODAL_TEXTS = ("gate.modal_title", "gate.modal_submit", "gate.result_title", "gate.done_title", "mfa.enroll_title",
               "mfa.enroll_submit", "order.picker_title", "order.picker_submit", "order.picker_done_title",
               "order.picker_failed_title", "common.cancel")
BUTTON_TEXTS = ("common.confirm", "common.cancel", "order.confirm_label", "order.cancel_label", "order.requote",
                "group.delete_confirm", "sim.next", "sim.previous")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_modal_and_button_texts_fit_slack_limits(lang: str) -> None:
    texts = catalogue(lang)
    assert {mid: texts[mid] for mid in MODAL_TEXTS if len(texts[mid]) > 24} == {}
    assert {mid: texts[mid] for mid in BUTTON_TEXTS if len(texts[mid]) > 75} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_literal_texts_hold_no_placeholder(lang: str) -> None:
    """A text with literal braces (JSON in a usage) is shown unformatted, so it cannot take values too."""
    mixed = [mid for mid, text in catalogue(lang).items()
             if is_template(text) and any(not name.isidentifier() for name, _, _ in fields(text))]
    assert mixed == []


def test_ids_used_in_code_exist_in_english() -> None:
    english = catalogue(DEFAULT_LANG)
    used: dict[str, str] = {}
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            if SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
                continue
            for match in USED_ID.finditer(path.read_text(encoding="utf-8")):
                used.setdefault(match.group(2), str(path.relative_to(ROOT)))
    assert len(used) > 100, "the pattern no longer finds the ids the code uses"
    assert {mid: where for mid, where in used.items() if mid not in english} == {}
