#!/usr/bin/env bash
# The embedded demo (`make run`): SQLite, Celery on the filesystem broker, no other services.
# Migrates, seeds the demo data, starts a Celery worker with beat in the background and the
# development server in the foreground; stopping the server stops the worker.
set -euo pipefail
cd "$(dirname "$0")/.."

export DJANGO_DEBUG=1
# Always the embedded setup, whatever this shell exports for the test suite.
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL

python=.venv/bin/python

"$python" manage.py migrate --noinput
if [ -d locale ] && [ -n "$(find locale -name '*.po' -print -quit)" ]; then
    if command -v msgfmt >/dev/null 2>&1; then
        "$python" manage.py compilemessages --ignore=.venv --verbosity 0
    else
        echo "msgfmt not found (gettext): using the committed .mo translation files."
    fi
fi
"$python" manage.py createcachetable
"$python" manage.py seed_demo

log="${OMNICOLLECT_VAR_DIR:-var}/log/celery.log"
mkdir -p "$(dirname "$log")"
echo "Celery worker and beat run in the background, logging to $log"
.venv/bin/celery -A config worker -B --pool=solo --loglevel=INFO >>"$log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT

"$python" manage.py runserver 127.0.0.1:8000
