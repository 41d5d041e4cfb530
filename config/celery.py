import os
from pathlib import Path

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded broker (no Redis): kombu's filesystem transport with atomic message writes.
TRANSPORT_ALIASES["safefs"] = "core.kombu_fs:Transport"

app = Celery("omnicollect")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def _create_beat_schedule_folder(sender=None, **kwargs):
    """`worker -B` keeps beat's schedule in a file under var/: create its folder up front.

    (Beat opens the file before its own signals fire, and the broker folders may not exist yet.)
    """
    Path(app.conf.beat_schedule_filename).parent.mkdir(parents=True, exist_ok=True)
