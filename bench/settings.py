"""The project's settings, with the bench's URLs (the app and its bare baselines)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
