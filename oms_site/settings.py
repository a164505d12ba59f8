"""OMS settings: one module, driven by the environment.

Embedded defaults (no DATABASE_URL, no REDIS_URL): SQLite under var/, in-process channel
layer and cache. The run command starts an embedded Redis and hands REDIS_URL to its
children, so a running stack always has a real broker; only a bare `manage.py` or the
test suite runs without one.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from oms_site.log_filters import CELERY_TASK_LOGGERS
from oms_site.production import production_env_problem

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
OMS_ENV = env.str("OMS_ENV", default="development")  # development | test | production
IS_PRODUCTION = OMS_ENV == "production"

_INSECURE_KEY = "insecure-development-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_KEY)
# Django's own rule (check --deploy): at least 50 characters, at least 5 different ones.
if IS_PRODUCTION and (
    SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a real secret (>= 50 characters) in production"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "oms_site.api_errors.csrf_failure"  # the JSON error shape under /api/

# Broker credentials are encrypted with MultiFernet: the first key encrypts, all decrypt,
# so keys rotate by prepending a new one and running `manage.py rotate_credentials`.
OMS_FERNET_KEYS = env.list("OMS_FERNET_KEYS", default=[])
if IS_PRODUCTION and not OMS_FERNET_KEYS:
    raise ImproperlyConfigured("OMS_FERNET_KEYS must be set in production")
# No silent SQLite / inline tasks in production: DATABASE_URL and REDIS_URL must be set.
if _production_problem := production_env_problem(os.environ):
    raise ImproperlyConfigured(_production_problem)

OMS_REQUIRE_ADMIN_MFA = env.bool("OMS_REQUIRE_ADMIN_MFA", default=False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "marketdata",
    "execution",
    "pnl",
    "orders",
    "strategies",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "oms_site.cache_headers.NoStoreMiddleware",  # API and signed-in pages: no-store
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "oms_site.api_errors.ApiErrorMiddleware",  # JSON 413/500/503 under /api/
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.AdminMfaRequiredMiddleware",
]

ROOT_URLCONF = "oms_site.urls"
WSGI_APPLICATION = "oms_site.wsgi.application"
ASGI_APPLICATION = "oms_site.asgi.application"

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
                "accounts.context_processors.trading_access",
                "accounts.context_kill_switch.kill_switch",
                "accounts.context_broker_sessions.expired_broker_sessions",
                "marketdata.context_processors.instrument_ticks",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'oms.sqlite3'}"),
}
_db = DATABASES["default"]
if "mysql" in _db["ENGINE"]:
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update(
        {"charset": "utf8mb4", "isolation_level": "read committed", "connect_timeout": 5}
    )
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    # Under ASGI each request may run on a new thread: persistent connections leak there.
    # Instead closed connections go back to a per-process pool (oms_site/mysql_pool).
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
    if env.bool("DB_POOL", default=True):
        _db["ENGINE"] = "oms_site.mysql_pool"
    _db["CONN_HEALTH_CHECKS"] = True
elif "sqlite" in _db["ENGINE"]:
    # Django's SQLite backend, reading decimals of more than 15 digits without a crash.
    _db["ENGINE"] = "oms_site.sqlite_backend"
    # Tests on an in-memory database, as with Django's own engine name (pytest-django knows
    # only that name: for ours it would give each xdist worker "test_<path>_gwN", a file in
    # a folder that does not exist).
    _db["TEST"] = {"NAME": ":memory:"}
    # WAL + a busy timeout let the web process, workers and the feed share one file.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker -----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# A parallel test run (pytest-xdist worker gwN) uses Redis database <base>+N, so one worker's
# cache.clear() (FLUSHDB) and channel groups never reach another worker's tests.
_XDIST_WORKER = env.str("PYTEST_XDIST_WORKER", default="")
if REDIS_URL and _XDIST_WORKER.startswith("gw") and _XDIST_WORKER[2:].isdigit():
    from urllib.parse import urlsplit, urlunsplit

    _redis_parts = urlsplit(REDIS_URL)
    _redis_db = (int(_redis_parts.path.strip("/") or 0) + int(_XDIST_WORKER[2:])) % 16
    REDIS_URL = urlunsplit(_redis_parts._replace(path=f"/{_redis_db}"))
if REDIS_URL:
    # notifications/channel_layer.py: one Redis Pub/Sub subscriber per process, fan-out to
    # that process's streams in memory; a group message is published once.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "notifications.channel_layer.LocalFanoutRedisLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                # Orders/notifications one stream may have waiting before it is closed (its
                # client reconnects and catches up); quotes and depth are coalesced instead.
                "capacity": env.int("OMS_WS_STREAM_BACKLOG", default=5000),
                "pool_size": env.int("OMS_WS_REDIS_POOL_SIZE", default=10),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "oms_site.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "oms",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("OMS_CELERY_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis broker: a message taken by a worker that died before acknowledging it (acks_late)
# is handed out again after `visibility_timeout` s, checked every `unacked_restore_interval`
# s. Celery's default (an hour, checked every ~100 s) left a killed worker's tasks waiting
# that long. Every task is safe to run twice (a submission is claimed under the order's row
# lock, an exchange command is done once by its row, reports by their id), and orders and
# exchange commands do not wait for this anyway: the pending_new sweeper re-sends after
# 15-30 s and the exchange resend job after 30-60 s; this is the backstop for the rest
# (group sync, algo steps, notifications). It must stay above any countdown (1 s) and the
# longest task's run time, or a still-running task is started a second time.
# Socket timeouts: Celery's warm shutdown (after an unrecoverable broker error, e.g. Redis
# restarted mid-read) still reads from the broker's socket, and without a timeout a silent
# socket wedged the worker for good (seen in the fault suite: "Warm shutdown", then nothing,
# so the supervisor never restarted it). Celery names the redis `socket_timeout` transport
# option as the way out; the worker's own BRPOP polls every second, well inside it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("OMS_CELERY_VISIBILITY_TIMEOUT_S", default=60),
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    "socket_timeout": 15,
    "socket_connect_timeout": 5,
}
CELERY_TASK_DEFAULT_QUEUE = "execution"
# Submission in bursts to the in-process venues (orders/core/submit_burst.py): drainers that
# may run at once, the most orders one burst takes, how long a dead drainer's slot stays
# taken, and how long one drain task loops before handing over to a fresh one.
OMS_SUBMIT_DRAINERS = env.int("OMS_SUBMIT_DRAINERS", default=2)
OMS_SUBMIT_BURST_MAX = env.int("OMS_SUBMIT_BURST_MAX", default=200)
OMS_SUBMIT_WAKE_TTL_S = env.int("OMS_SUBMIT_WAKE_TTL_S", default=10)
OMS_SUBMIT_DRAIN_ROUND_S = env.int("OMS_SUBMIT_DRAIN_ROUND_S", default=5)
# After its last burst a drainer keeps looking for this long, every OMS_SUBMIT_POLL_MS,
# before it frees its slot (not when tasks run inline: the caller would wait).
OMS_SUBMIT_LINGER_MS = env.int("OMS_SUBMIT_LINGER_MS", default=200)
OMS_SUBMIT_POLL_MS = env.int("OMS_SUBMIT_POLL_MS", default=25)
# The longest an API placement's answer waits for a submission queue that is behind
# (orders/core/submit_burst.py `submission_pace`); 0 = never wait.
OMS_SUBMIT_PACE_MAX_MS = env.int("OMS_SUBMIT_PACE_MAX_MS", default=1000)
CELERY_QUEUES_ALL = ["execution", "marketdata", "monitoring", "notifications"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Live stream (/ws/stream/): server heartbeat period; access is re-checked on each beat.
OMS_WS_HEARTBEAT_SECS = env.float("OMS_WS_HEARTBEAT_SECS", default=20.0)
# Numbered pushes kept per user for GET /api/v1/stream/missed (notifications/stream_log.py).
OMS_STREAM_RETENTION_SECS = env.int("OMS_STREAM_RETENTION_SECS", default=600)
OMS_STREAM_RETENTION_MAX = env.int("OMS_STREAM_RETENTION_MAX", default=1000)
# How long a process reuses who may see an account when numbering its pushes.
OMS_STREAM_RECIPIENTS_CACHE_SECS = env.float("OMS_STREAM_RECIPIENTS_CACHE_SECS", default=5.0)
OMS_NOTIFICATION_RETENTION_DAYS = env.int("OMS_NOTIFICATION_RETENTION_DAYS", default=90)

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.NoSignupAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
# Failed sign-ins: per client address (10 a minute, 30 an hour) and per login name from that
# address ("key", see accounts/adapters.py): guessing never locks the owner out elsewhere.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("OMS_LOGIN_RATE", default="30/m/ip"),
    "login_failed": env.str("OMS_LOGIN_FAILED_RATE", default="10/m/ip,30/h/ip,5/5m/key"),
}
# Across addresses a login name is slowed, not locked (accounts/login_throttle.py).
OMS_LOGIN_NAME_FAILURES = env.int("OMS_LOGIN_NAME_FAILURES", default=5)
OMS_LOGIN_NAME_WINDOW_SECS = env.float("OMS_LOGIN_NAME_WINDOW_SECS", default=300.0)
OMS_LOGIN_NAME_DELAY_SECS = env.float("OMS_LOGIN_NAME_DELAY_SECS", default=3.0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "OMS"

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "oms_site.api.OmsPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["oms_site.json_input.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "oms_site.schema.OmsAutoSchema",
    "EXCEPTION_HANDLER": "oms_site.api.exception_handler",
    # No OPTIONS metadata: not part of the API (and DRF's would call get_object() on views
    # not built for it: a 500); OPTIONS is a 405 like any method an operation does not list.
    "DEFAULT_METADATA_CLASS": None,
    # `?format=` picks one of the view's renderers (the schema's json / yaml); any other
    # value is an unknown parameter, ignored (DRF's own answer was a 404 "Not found.").
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "oms_site.negotiation.LenientContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": [
        "oms_site.throttling.UserSlidingWindowThrottle",
        "oms_site.throttling.AnonSlidingWindowThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("OMS_API_USER_RATE", default="6000/min"),
        "anon": env.str("OMS_API_ANON_RATE", default="120/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": "Order management system: accounts, market data, orders, positions, PnL.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI assets come from the sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set (several serializers have a field "side", "type", "product"):
    # without these the names carry hashes and `check --deploy` warns (drf_spectacular.W001).
    "ENUM_NAME_OVERRIDES": {
        "OrderSideEnum": "orders.models.OrderSide",
        "SideEnum": ["buy", "sell"],  # GTT legs and schedule templates
        "OrderTypeEnum": "orders.models.OrderType",
        "OrderProductEnum": "orders.models.Product",
        "OrderTimeInForceEnum": "orders.models.TimeInForce",
        # GTT legs and a strategy's order defaults: limit or market orders, either product
        "LimitOrMarketEnum": ["limit", "market"],
        "ProductEnum": ["delivery", "intraday"],
        # strategies: a sizing rule's type, and the times in force a strategy may default to
        "SizingTypeEnum": ["fixed_qty", "fixed_value", "equity_pct", "risk_pct", "multiplier"],
        "StrategyTimeInForceEnum": ["day", "gtc", "ioc", "fok"],
        # notifications: the events of API.md and the channels a user picks per event
        "NotificationEventEnum": "notifications.models.NotificationEvent",
        "NotificationChannelEnum": "notifications.models.DeliveryChannel",
    },
}

# --- i18n / time ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Content-Security-Policy (django-csp) -----------------------------------------------
# Scripts only from our own static files: no inline <script>, no on*= handlers, no eval
# (page data travels in data-* attributes or json_script's type="application/json", which
# is never executed). Styles may be inline: the Swagger UI and the charts set style
# attributes. The QR code of the TOTP set-up is a data: image.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="oms@localhost")
# Where EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend writes each message.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
# EMAIL_URL (django-environ), e.g. smtp+tls://user:pass@mail.example.com:587 sets the backend,
# host, port, user, password and TLS at once; without it the console backend above.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- Notification delivery (notifications/delivery.py) --------------------------------
# Webhook URLs resolving to private/loopback addresses are refused unless this is on (SSRF);
# on by default outside production (the embedded demo and tests post to 127.0.0.1).
OMS_WEBHOOK_ALLOW_PRIVATE = env.bool("OMS_WEBHOOK_ALLOW_PRIVATE", default=not IS_PRODUCTION)
OMS_WEBHOOK_TIMEOUT_S = env.float("OMS_WEBHOOK_TIMEOUT_S", default=10.0)
# An endpoint still failing this long after its first failure is disabled, its owner told.
OMS_WEBHOOK_DISABLE_AFTER_S = env.int("OMS_WEBHOOK_DISABLE_AFTER_S", default=24 * 3600)
# Email and chat messages of one user gathered for this long go out as one (a digest).
OMS_NOTIFY_BATCH_WINDOW_S = env.float("OMS_NOTIFY_BATCH_WINDOW_S", default=10.0)
OMS_SITE_URL = env.str("OMS_SITE_URL", default="")

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's JavaScript sends it as X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HTTPS only: plain HTTP is redirected (except the load balancer's health check) and
    # browsers are told to remember that for a year (HSTS).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Polling jobs beat runs every minute or faster: logged only when they did something.
OMS_LOG_QUIET_TASKS = env.list(
    "OMS_LOG_QUIET_TASKS",
    default=[
        "orders.algos_run_due",
        "orders.sweep_pending_new",
        "orders.expire_due",
        "orders.release_queued_for_open",
        "orders.gtt_expire_due",
        "orders.square_off_intraday",
        "execution.exchange_commands_resend",
        "pnl.reconcile_account",
        "strategies.sweep_accepted",
        "strategies.auto_exit",
        "notifications.sweep_deliveries",
    ],
)
# Logged only when they fail: an exchange command's outcome is stored with it (back office:
# venue commands) and in its order's audit trail, and the demo market maker's re-quotes send
# several every few seconds (two lines each were half of an idle stack's log).
OMS_LOG_QUIET_SUCCESS_TASKS = env.list(
    "OMS_LOG_QUIET_SUCCESS_TASKS", default=["execution.exchange_command"]
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "quiet_polling": {
            "()": "oms_site.log_filters.QuietPollingTasks",
            "tasks": OMS_LOG_QUIET_TASKS,
            "quiet_success": OMS_LOG_QUIET_SUCCESS_TASKS,
        },
        "client_errors_without_traceback": {
            "()": "oms_site.log_filters.ClientErrorsWithoutTraceback"
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["client_errors_without_traceback"]},
        **{name: {"filters": ["quiet_polling"]} for name in CELERY_TASK_LOGGERS},
    },
}

# Live pushes of quotes and order-book depth: at most one per symbol per interval (seconds).
OMS_QUOTE_PUSH_INTERVAL = env.float("OMS_QUOTE_PUSH_INTERVAL", default=0.1)
OMS_BOOK_PUSH_INTERVAL = env.float("OMS_BOOK_PUSH_INTERVAL", default=0.1)

# --- Execution (paper broker, internal exchange, per-broker resilience) -------------------
OMS_PAPER_SLIPPAGE_BPS = env.str("OMS_PAPER_SLIPPAGE_BPS", default="0")
OMS_PAPER_FEE_BPS = env.str("OMS_PAPER_FEE_BPS", default="0")
OMS_PAPER_FEE_FIXED = env.str("OMS_PAPER_FEE_FIXED", default="0")
OMS_EXCHANGE_SHARDS = env.int("OMS_EXCHANGE_SHARDS", default=1)
OMS_EXCHANGE_FEE_BPS = {
    "maker": env.str("OMS_EXCHANGE_MAKER_FEE_BPS", default="0"),
    "taker": env.str("OMS_EXCHANGE_TAKER_FEE_BPS", default="0"),
}
OMS_EXCHANGE_LEASE_TTL_S = env.int("OMS_EXCHANGE_LEASE_TTL_S", default=15)
# The most starting cash a non-admin may give a new account on the internal exchange (one
# venue shared by every exchange account); admins choose any amount (accounts/services.py).
OMS_EXCHANGE_MAX_STARTING_CASH = env.str("OMS_EXCHANGE_MAX_STARTING_CASH", default="10000000")
# Per broker kind overrides of execution/resilience.py's BrokerPolicy fields, e.g.
# {"paper": {"rate_per_s": 500, "burst": 1000}}; the "*" entry applies to every broker.
OMS_BROKER_POLICIES = env.json("OMS_BROKER_POLICIES", default={})

# --- Automation (orders: square-off, re-entry, algos) ------------------------------------
# Intraday positions are squared off this many minutes before their exchange's close;
# SIM (always open) squares off daily at OMS_SIM_SQUARE_OFF_UTC (HH:MM, UTC).
OMS_SQUARE_OFF_MINUTES_BEFORE_CLOSE = env.int("OMS_SQUARE_OFF_MINUTES_BEFORE_CLOSE", default=15)
OMS_SIM_SQUARE_OFF_UTC = env.str("OMS_SIM_SQUARE_OFF_UTC", default="23:45")
OMS_REENTRY_DELAY_SECS = env.float("OMS_REENTRY_DELAY_SECS", default=1.0)
# Accounts per strategy fan-out task: a signal to a larger strategy is split into tasks of
# this many accounts, which the worker's processes run side by side (strategies/fanout.py).
OMS_SIGNAL_FANOUT_CHUNK = env.int("OMS_SIGNAL_FANOUT_CHUNK", default=10)
OMS_VWAP_LOOKBACK_DAYS = env.int("OMS_VWAP_LOOKBACK_DAYS", default=5)
