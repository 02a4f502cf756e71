"""German and Hungarian are complete: every string of the portal is translated, none is
fuzzy, the placeholders match, and makemessages finds nothing new."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.i18n import po

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["de", "hu"]
# How locale/ is made: the one makemessages command (README, "Translations").
MAKEMESSAGES = [
    "makemessages",
    *("-l", "de", "-l", "hu"),
    *("--ignore=.venv", "--ignore=tests", "--ignore=.run", "--ignore=staticfiles"),
    *("--ignore=test-artifacts", "--ignore=docs"),
    "--no-obsolete",
    "--add-location=file",
]
SOURCES = ("*.py", "*.html", "*.txt")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]*\}")


def catalogue(language: str) -> list[po.Entry]:
    return po.read(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(language):
    """No empty msgstr, no fuzzy entry."""
    untranslated = [e.msgid for e in catalogue(language) if not e.translated]
    assert not untranslated, f"{len(untranslated)} untranslated in {language}: " + "; ".join(
        repr(m) for m in untranslated[:20]
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    """Every %(name)s of the English text is in the translation, and nothing else."""
    wrong = []
    for entry in catalogue(language):
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        expected = sorted(set().union(*(PLACEHOLDER.findall(s) for s in sources)))
        for text in entry.msgstr:
            named = {p for p in expected if p.startswith("%(")}
            found = set(PLACEHOLDER.findall(text))
            # a plural's singular form may leave out the count
            if not named <= found | {"%(n)s", "%(count)s"} or found - set(expected):
                wrong.append(f"{entry.msgid!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_makemessages_finds_no_new_string(tmp_path):
    """The catalogues hold exactly the portal's strings: makemessages over a copy of the
    sources finds nothing that locale/ lacks (and nothing locale/ holds is gone)."""
    copy = tmp_path / "src"
    ignore = shutil.ignore_patterns(
        ".venv",
        ".git",
        ".run",
        "tests",
        "staticfiles",
        "test-artifacts",
        "media",
        "docs",
        "node_modules",
        "__pycache__",
        "*.mo",
        "*.png",
        "*.sqlite3",
    )
    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for language in LANGUAGES:
        fresh = {e.key for e in po.read(copy / "locale" / language / "LC_MESSAGES" / "django.po")}
        ours = {e.key for e in catalogue(language)}
        new, gone = sorted(fresh - ours, key=str), sorted(ours - fresh, key=str)
        assert not new and not gone, (
            f"locale/{language} is out of date: run `python manage.py "
            f"{' '.join(MAKEMESSAGES)}` and translate.\n"
            f"new: {[m for _c, m in new][:20]}\ngone: {[m for _c, m in gone][:20]}"
        )
