"""SECURITY.md names the tests and access helpers that hold each control: they must exist."""

import re
from pathlib import Path

import orders.selectors
import stores.selectors

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "SECURITY.md").read_text()


def test_every_test_file_named_in_security_md_exists():
    named = set(re.findall(r"`(test_[a-z0-9_]+\.py)`", DOC))
    present = {path.name for path in (ROOT / "tests").rglob("test_*.py")}

    assert len(named) >= 15
    assert sorted(named - present) == []


def test_every_access_helper_named_in_security_md_exists():
    named = set(re.findall(r"`((?:order_for|store_for|managed)_[a-z_]+)`", DOC))
    helpers = {*vars(orders.selectors), *vars(stores.selectors)}

    assert named >= {"order_for_customer", "order_for_store", "store_for_staff"}
    assert sorted(named - helpers) == []


def test_the_readme_points_to_it():
    assert "`SECURITY.md`" in (ROOT / "README.md").read_text()
