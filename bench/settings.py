"""The production settings, plus the bench's bare baseline views under /_bench/ (bench.urls).

Served by gunicorn with ``DJANGO_SETTINGS_MODULE=bench.settings`` during ``make bench`` only.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
