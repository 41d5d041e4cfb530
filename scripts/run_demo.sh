#!/usr/bin/env bash
# The embedded demo (`make run`): SQLite, Celery on the filesystem broker, no other services.
# Migrates, seeds the demo data, starts a Celery worker with beat in the background and the
# development server in the foreground; stopping the server stops the worker.
set -euo pipefail
cd "$(dirname "$0")/.."

export DJANGO_DEBUG=1
# Always the embedded setup, whatever this shell exports for the test suite.
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL

# The one address of the demo: the development server's port, the links in messages, the
# webhook that the test Stripe server calls and the address seed_demo prints.
port="${PORT:-8000}"
export SITE_URL="http://127.0.0.1:$port"

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

log_dir="${OMNICOLLECT_VAR_DIR:-var}/log"
mkdir -p "$log_dir"
children=()
trap 'kill "${children[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

# Online card payments without Stripe keys: a localstripe server (a fake Stripe, installed with
# the dev extra) on loopback, with its fake Stripe.js. The payment page says it is a test.
if [ -z "${STRIPE_SECRET_KEY:-}" ] && "$python" -c "import localstripe" 2>/dev/null; then
    stripe_port="${LOCALSTRIPE_PORT:-8420}"
    export STRIPE_API_BASE="http://127.0.0.1:$stripe_port"
    export STRIPE_JS_URL="$STRIPE_API_BASE/js.stripe.com/v3/"
    export STRIPE_SECRET_KEY=sk_test_omnicollect_demo
    export STRIPE_PUBLISHABLE_KEY=pk_test_omnicollect_demo
    export STRIPE_WEBHOOK_SECRET=whsec_omnicollect_demo
    "$python" -m tests.support.localstripe_server "$stripe_port" \
        "$SITE_URL/payments/stripe/webhook/" "$STRIPE_WEBHOOK_SECRET" \
        >>"$log_dir/localstripe.log" 2>&1 &
    children+=($!)
    echo "Card payments go to a test Stripe server (localstripe) on $STRIPE_API_BASE: test card 4242 4242 4242 4242."
elif [ -z "${STRIPE_SECRET_KEY:-}" ]; then
    echo "No Stripe keys and no localstripe: the shop offers paying at the counter only."
fi

# Messages go to the console (emails and SMS/WhatsApp in the Celery log) and the survey after
# a collection comes two minutes later instead of two hours, so the demo shows every step.
export NPS_DELAY_MINUTES="${NPS_DELAY_MINUTES:-2}"

log="$log_dir/celery.log"
echo "Celery worker and beat run in the background, logging to $log"
.venv/bin/celery -A config worker -B --pool=solo --loglevel=INFO >>"$log" 2>&1 &
children+=($!)

"$python" manage.py runserver "127.0.0.1:$port"
