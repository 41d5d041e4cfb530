"""The project's own Python packages, for tests that look at the code as a whole."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The Django apps of the business, bottom to top (the last two side by side: the store
# tablet and the manager's side, neither importing the other).
APPS = ["customers", "stores", "shop", "orders", "counter", "reports"]
# Every package of ours: the wiring, the shared base and the apps.
PACKAGES = ["config", "core", *APPS]
