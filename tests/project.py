"""The project's own Python packages, for tests that look at the code as a whole."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Django apps with models of the business, bottom to top.
APPS = ["customers", "stores", "shop", "orders"]
# Every package of ours: the wiring, the shared base and the apps.
PACKAGES = ["config", "core", *APPS]
