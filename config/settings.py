"""Omnicollect settings: one module, every deploy-specific value from the environment.

Names are part of the external contract (DESIGN §8). With ``DJANGO_DEBUG`` off (the default)
every security setting is on; the embedded demo (`make run`) turns debug on explicitly.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OMNICOLLECT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789abcdef"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "core",
    "customers",
    "stores",
    "shop",
    "orders",
    "counter",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the body (RejectNullCharacters reads forms); after Locale, so the
    # refusal speaks the caller's language.
    "core.middleware.ApiRequestLimitsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.RejectNullCharactersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "shop.middleware.HandoffNoticeMiddleware",
    "core.middleware.HtmxRedirectMiddleware",
    "core.middleware.DomainErrorMiddleware",
    # Last, as django-axes asks: it turns locked-out logins into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shop.context_processors.shop",
            ],
            # Money and store times read the same everywhere: {{ x|money:currency }},
            # {{ when|zone_label }} (core/display.py).
            "builtins": ["core.display"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo shares the file with the Celery worker: wait instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False

# --- Cache (attempt counters for rate limits: core/counters.py) ----------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("DJANGO_CACHE_PREFIX", "omnicollect"),
            # Redis answers in well under a millisecond: a cache that does not answer within
            # half a second is treated as down (the counters fail open) instead of holding
            # the request.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # Embedded default: shared by every process of the demo (`manage.py createcachetable`).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "omnicollect_cache",
        }
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "customers.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # OWASP ASVS 5.0 level 2: at least 12 characters.
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A password reset link works once, for this many seconds.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(60 * 60)))
LOGIN_URL = "shop:login"
LOGIN_REDIRECT_URL = "shop:catalogue"
LOGOUT_REDIRECT_URL = "shop:catalogue"

# Lockouts are kept in the database: they hold while the cache (Redis) is down.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# No row per successful log-in (the customer's timeline records what matters).
AXES_DISABLE_ACCESS_LOG = True
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "core.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("DJANGO_LANGUAGE_CODE", "es")
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True
# The shop's own zone: a store's times are labelled with its zone where they differ from the
# times here (Ciudad de México's "17:30 CST"); times in the admin are always labelled.
SHOP_TIME_ZONE = os.environ.get("SHOP_TIME_ZONE", "Europe/Madrid")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("DJANGO_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: only our own scripts and styles, nothing inline.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)

# --- REST API (DESIGN §8) ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.tokens.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON parser with a nesting limit (core.parsers.JSON_MAX_DEPTH).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
REST_KNOX = {
    # Per-device tokens, stored hashed; a token unused for 30 days expires.
    "TOKEN_TTL": timedelta(days=30),
    "AUTO_REFRESH": True,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": 20,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnicollect API",
    "DESCRIPTION": "Click & collect: catalogue, one cart across channels, checkout, orders, "
    "and the store counter.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A timeline entry's channel: where the customer acted, or where a message went.
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "customers.models.Channel",
        "TouchpointChannelEnum": "customers.models.TOUCHPOINT_CHANNELS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.document_common_errors",
    ],
}
# (limit, window seconds) per scope; every attempt counts, on the shared cache.
API_RATE_LIMITS = {
    "auth": (10, 60),
    "code_lookup": (20, 60),
    "checkout": (10, 60),
    "handoff_claim": (10, 60),
    # Password reset links: asked for per caller (address), and sent per email address.
    "password_reset": (10, 60 * 60),
    "password_reset_address": (3, 60 * 60),
    # The store tablet, per clerk: searches of the customer file, and customer records opened
    # (a guessed reference counts too).
    "customer_search": (30, 60),
    "customer_view": (60, 60),
}
# Every limit above multiplied by this (a load test raises it for its run only; default 1).
API_RATE_LIMITS_SCALE = int(os.environ.get("API_RATE_LIMITS_SCALE", "1"))
if API_RATE_LIMITS_SCALE < 1:
    raise ImproperlyConfigured("API_RATE_LIMITS_SCALE must be a whole number of at least 1.")
API_RATE_LIMITS = {
    scope: (limit * API_RATE_LIMITS_SCALE, window)
    for scope, (limit, window) in API_RATE_LIMITS.items()
}

# --- Email ----------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "Omnicollect <no-reply@localhost>")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))

# --- Messages to customers (DESIGN §6) ------------------------------------------------------
# The address links in messages point at (the order page, the survey).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The order link in messages opens that order's page without logging in for this many days
# after the message was written (orders/links.py).
ORDER_LINK_DAYS = int(os.environ.get("ORDER_LINK_DAYS", "30"))
# SMS and WhatsApp: "console" (printed to the log: the demo), "http" (a provider at
# TEXT_MESSAGE_URL with TEXT_MESSAGE_TOKEN), or empty (email only).
_TEXT_BACKENDS = {
    "console": "customers.messaging.ConsoleBackend",
    "http": "customers.messaging.HttpBackend",
}
TEXT_MESSAGE_BACKEND = _TEXT_BACKENDS.get(
    os.environ.get("TEXT_MESSAGE_BACKEND", "console" if DEBUG else ""), ""
)
TEXT_MESSAGE_URL = os.environ.get("TEXT_MESSAGE_URL", "")
TEXT_MESSAGE_TOKEN = os.environ.get("TEXT_MESSAGE_TOKEN", "")
# A failed send is retried with exponential back-off from NOTIFICATION_RETRY_SECONDS, then
# marked failed after NOTIFICATION_MAX_ATTEMPTS.
NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATION_MAX_ATTEMPTS", "5"))
NOTIFICATION_RETRY_SECONDS = int(os.environ.get("NOTIFICATION_RETRY_SECONDS", "30"))
# A message still "being sent" this long after its worker started is taken as lost (a killed
# worker) and sent again. Longer than a send can take (EMAIL_TIMEOUT, the SMS timeout).
NOTIFICATION_SEND_TIMEOUT_SECONDS = int(os.environ.get("NOTIFICATION_SEND_TIMEOUT_SECONDS", "120"))
# Non-transactional messages (the survey): at most this many per customer per window.
NOTIFICATION_CAP = (
    int(os.environ.get("NOTIFICATION_CAP_COUNT", "1")),
    int(os.environ.get("NOTIFICATION_CAP_DAYS", "7")),
)
# The satisfaction survey goes out this long after a collection.
NPS_DELAY_MINUTES = int(os.environ.get("NPS_DELAY_MINUTES", "120"))

# --- Celery ---------------------------------------------------------------------------------
# Without Redis: "safefs", kombu's filesystem transport with atomic message writes
# (core/kombu_fs.py, registered in config/celery.py); it creates its folders.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "safefs://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith(("safefs://", "filesystem://")):
    _queue = VAR_DIR / "celery" / "queue"
    _control = VAR_DIR / "celery" / "control"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
        "polling_interval": 0.1,
    }
CELERY_TASK_IGNORE_RESULT = True
# No task needs its result; set one to inspect results (e.g. redis://…/1).
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
# Keep sending what is in progress when the broker connection drops: acks_late and the
# message sweep already cover a send that is cut short (Celery 6 changes this default).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# Publishing a task must not hang a request when the broker is down: a few quick tries, then
# the caller logs it and the outbox sweep sends the message once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unacknowledged task (acks_late) goes to another worker after this long: well over
    # the longest a task may run (CELERY_TASK_TIME_LIMIT). No task is queued with a countdown
    # (those would be redelivered past it): messages due later are sent by the minute sweep.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
CELERY_BEAT_SCHEDULE = {
    "send-due-messages": {"task": "customers.tasks.sweep_notifications", "schedule": 60.0},
    "expire-holds": {"task": "orders.tasks.expire_holds", "schedule": 60.0},
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders", "schedule": 60.0},
    "settle-card-payments": {"task": "orders.tasks.settle_card_payments", "schedule": 300.0},
    "send-reminders": {"task": "orders.tasks.send_reminders", "schedule": 300.0},
    "flush-touchpoints": {"task": "customers.tasks.flush_touchpoints", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")

# --- Stripe (payments issue) ----------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
# Stripe.js, loaded by the card payment page: Stripe's own in production; the fake one served
# by a localstripe server (STRIPE_API_BASE + "/js.stripe.com/v3/") in the demo and the tests.
STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
# Card networks let an authorisation be held this long before it lapses (Stripe cancels
# uncaptured PaymentIntents after 7 days). Before then the hold is released by us and the
# order is flagged so the clerk takes payment at the counter instead.
CARD_AUTHORISATION_DAYS = int(os.environ.get("CARD_AUTHORISATION_DAYS", "7"))
# A payment operation (capture, cancel, refund) whose provider answer has not been recorded
# after this long is settled by asking the provider where the payment stands.
PAYMENT_OPERATION_STALE_MINUTES = int(os.environ.get("PAYMENT_OPERATION_STALE_MINUTES", "10"))
# An online order whose card is not authorised within this time is cancelled (stock released).
ONLINE_PAYMENT_TIMEOUT_MINUTES = int(os.environ.get("ONLINE_PAYMENT_TIMEOUT_MINUTES", "30"))

# --- Omnicollect ----------------------------------------------------------------------------
# Wrong pickup codes a clerk may type at one store within the window before being stopped.
PICKUP_CODE_CLERK_LIMIT = 10
PICKUP_CODE_CLERK_WINDOW = 15 * 60
# Wrong codes against one known order before that order's code is locked.
PICKUP_CODE_ORDER_LIMIT = 5
CART_MAX_LINE_QUANTITY = 20
CART_HANDOFF_SECONDS = 10 * 60
# Phone numbers typed without a country code are read as the store's country, else this one's.
PHONE_REGION = "ES"
CATALOGUE_PAGE_SIZE = 12
PICKUP_SLOT_SEARCH_DAYS = 7

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
CSRF_FAILURE_VIEW = "core.views.csrf_failure"
