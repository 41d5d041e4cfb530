"""Run a snippet in `manage.py shell` on a fresh SQLite database (the demo's engine) and
read back what it printed last, as JSON."""

import json
import os
import subprocess
import sys

from tests.support.project import ROOT


def run_on_sqlite(script: str, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_DEBUG": "0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
