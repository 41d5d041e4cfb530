"""Fill Spanish translations into locale/es from a JSON file of {msgid: msgstr} and clear
fuzzy marks on the entries it fills. For maintainers: `python scripts/translate.py new.json`.
"""

import json
import sys

import polib

PO = "locale/es/LC_MESSAGES/django.po"

with open(sys.argv[1], encoding="utf-8") as handle:
    translations = json.load(handle)
po = polib.pofile(PO)
for entry in po:
    if entry.msgid in translations and (not entry.translated() or "fuzzy" in entry.flags):
        value = translations[entry.msgid]
        if entry.msgid_plural:
            entry.msgstr_plural = {0: value[0], 1: value[1]}
        else:
            entry.msgstr = value
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = None
po.save()
left = [e.msgid for e in po if e.msgid and (not e.translated() or "fuzzy" in e.flags)]
print(f"{len(left)} left untranslated" + (": " + "; ".join(left) if left else ""))
