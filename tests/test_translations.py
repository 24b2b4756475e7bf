"""The console speaks Uzbek and Russian (issue 12): every message of ours has a translation in both, and the compiled
catalogs Django reads are the committed .po files.

After changing a marked string: `python manage.py makemessages -l uz -l ru` with the ignore list below (needs GNU
gettext: scripts/ensure-gettext.sh), translate the new entries in locale/*/LC_MESSAGES/django.po, then write the .mo
files (`python manage.py compilemessages`, or polib's `save_as_mofile`)."""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ["uz", "ru"]
# What makemessages must not read: installed packages, run-time data, tests (their strings are not shown to anyone).
IGNORE = [".venv", "var", "staticfiles", "bench", "tests", "*/tests", "node_modules"]
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[sd]|%%")


def _po(language: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / language / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_of_ours_is_translated(language):
    po = _po(language)
    assert len(po) > 100, "the catalog lost its entries"
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"{language}: no translation for {untranslated}"
    assert not fuzzy, f"{language}: fuzzy (unchecked) translations for {fuzzy}"
    for entry in po.translated_entries():
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(
                PLACEHOLDER.findall(entry.msgid_plural or entry.msgid)
            ), f"{language}: placeholders differ in {entry.msgid!r} -> {text!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_is_the_committed_po(language):
    """Django reads the .mo files: they must hold exactly what the .po files say."""
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    po, mo = _po(language), polib.mofile(str(folder / "django.mo"))

    def pairs(catalog) -> dict:
        return {
            (e.msgctxt, e.msgid): (dict(e.msgstr_plural) if e.msgid_plural else e.msgstr)
            for e in catalog
            if e.msgid and (e.msgstr or e.msgstr_plural) and not e.obsolete
        }

    assert pairs(mo) == pairs(po), f"locale/{language}/LC_MESSAGES/django.mo is stale: compile the .po again"


def test_every_marked_string_is_in_the_catalogs(tmp_path, monkeypatch):
    """makemessages over a copy of our code finds no message the committed catalogs lack (a string marked in a
    template or in Python but never added to the .po files fails here)."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is missing: run scripts/ensure-gettext.sh (make test does)")
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".venv", "var", "locale", ".git", "*.pyc", "__pycache__", "*.mp3")
    )
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[]):
        call_command("makemessages", locale=LANGUAGES, ignore_patterns=IGNORE, no_obsolete=True, verbosity=0)
    for language in LANGUAGES:
        extracted = {
            (e.msgctxt, e.msgid) for e in polib.pofile(str(copy / "locale" / language / "LC_MESSAGES" / "django.po"))
        }
        committed = {(e.msgctxt, e.msgid) for e in _po(language) if not e.obsolete}
        missing = sorted(msgid for _, msgid in extracted - committed)
        assert not missing, f"{language}: marked for translation but not in locale/{language}: {missing}"
