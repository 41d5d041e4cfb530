"""Translations: the shop speaks Spanish and English, and the Spanish catalog is complete.

The page tests go through LocaleMiddleware with an Accept-Language header; the catalog tests
read ``locale/es/LC_MESSAGES/django.po`` and the compiled ``django.mo`` beside it.
"""

import ast
import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.support.factories import VariantFactory
from tests.support.project import PACKAGES

ES_DIR = Path(django_settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO_FILE = ES_DIR / "django.po"
MO_FILE = ES_DIR / "django.mo"


# --- Pages -----------------------------------------------------------------------------------


@pytest.fixture
def product(db):
    return VariantFactory().product


def test_catalogue_in_spanish(client, product):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "es"
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "Buscar productos" in html
    assert "Todas las categorías" in html
    assert "Compra en línea y recoge en tienda." in html
    assert product.name in html
    assert "Search products" not in html


def test_catalogue_in_english(client, product):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Search products" in html
    assert "All categories" in html
    assert "Order online, collect in store." in html
    assert product.name in html
    assert "Buscar productos" not in html


# --- The Spanish catalog -----------------------------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: ``{"flags": set, "msgid": str, "msgid_plural": str|None,
    "msgctxt": str|None, "msgstr": [str, ...]}`` (obsolete ``#~`` entries are skipped)."""
    entries: list[dict] = []
    entry: dict | None = None
    key = None

    def finish():
        nonlocal entry, key
        if entry is not None and "msgid" in entry:
            entries.append(entry)
        entry, key = None, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if entry is None:
            entry = {"flags": set(), "msgctxt": None, "msgid_plural": None, "msgstr": {}}
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
        else:
            key, _, quoted = line.partition(" ")
            value = ast.literal_eval(quoted)
            if key.startswith("msgstr"):
                index = int(key[7:-1]) if key.startswith("msgstr[") else 0
                key = ("msgstr", index)
                entry["msgstr"][index] = ""
            else:
                entry[key] = ""
        if isinstance(key, tuple):
            entry["msgstr"][key[1]] += value
        else:
            entry[key] += value
    finish()
    for item in entries:
        item["msgstr"] = [item["msgstr"][i] for i in sorted(item["msgstr"])]
    return entries


@pytest.fixture(scope="module")
def es_entries():
    entries = parse_po(PO_FILE)
    assert entries and entries[0]["msgid"] == "", "the catalog starts with its header"
    return entries


def test_es_catalog_header(es_entries):
    header = es_entries[0]["msgstr"][0]
    assert "Language: es\n" in header
    assert "charset=UTF-8" in header
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header


def test_es_catalog_is_fully_translated(es_entries):
    fuzzy = [e["msgid"] for e in es_entries if "fuzzy" in e["flags"]]
    untranslated = [
        e["msgid"] for e in es_entries[1:] if not e["msgstr"] or any(not s for s in e["msgstr"])
    ]
    plurals_incomplete = [
        e["msgid"]
        for e in es_entries[1:]
        if e["msgid_plural"] is not None and len(e["msgstr"]) != 2
    ]
    assert len(es_entries) > 100
    assert fuzzy == []
    assert untranslated == []
    assert plurals_incomplete == []
    assert "#, fuzzy" not in PO_FILE.read_text(encoding="utf-8")


def test_es_mo_matches_po(es_entries):
    """The committed .mo was compiled from the current .po: every msgid is in it, translated."""
    with MO_FILE.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    assert catalog.info().get("language") == "es"
    stale = []
    for entry in es_entries[1:]:
        msgid = entry["msgid"]
        if entry["msgctxt"] is not None:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if entry["msgid_plural"] is not None:
            compiled = [catalog._catalog.get((msgid, i)) for i in range(len(entry["msgstr"]))]
        else:
            compiled = [catalog._catalog.get(msgid)]
        if compiled != entry["msgstr"]:
            stale.append(entry["msgid"])
    assert stale == []


# --- The catalog keeps up with the code ------------------------------------------------------


def test_every_marked_string_in_the_code_has_a_spanish_translation(tmp_path):
    """Extract the strings from the code as it is now (into a scratch copy) and check that
    the committed Spanish catalog translates every one of them."""
    base = Path(django_settings.BASE_DIR)
    for name in (*PACKAGES, "templates", "locale"):
        shutil.copytree(base / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(base / "manage.py", tmp_path / "manage.py")
    env = {**os.environ, "DJANGO_DEBUG": "1", "OMNICOLLECT_VAR_DIR": str(tmp_path / "var")}
    run = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-obsolete", "--no-location"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    extracted = parse_po(tmp_path / "locale/es/LC_MESSAGES/django.po")
    missing = sorted(
        e["msgid"]
        for e in extracted[1:]
        if "fuzzy" in e["flags"] or not e["msgstr"] or any(not s for s in e["msgstr"])
    )
    assert len(extracted) > 100
    assert missing == []
