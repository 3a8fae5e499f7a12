"""Conversa settings: every value comes from the environment (see the README's table)."""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp import constants as csp

ROOT_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
# A local .env (written by `make run` for development) is read if present; real deployments set
# the environment directly. ENV_FILE names another file (or /dev/null: none).
env.read_env(os.environ.get("ENV_FILE", str(ROOT_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)

BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
# Tenant hosts are `{slug}.{BASE_DOMAIN}`; the tenant middleware answers 404 for unknown ones.
EXTRA_ALLOWED_HOSTS = env.list("EXTRA_ALLOWED_HOSTS", default=[])
# Companies' custom domains change at run time: conversa.middleware.hosts.HostValidationMiddleware
# (first after the health checks) accepts BASE_DOMAIN, its subdomains, EXTRA_ALLOWED_HOSTS and those
# domains, and refuses every other Host with 400; the tenant middleware serves verified ones only.
ALLOWED_HOSTS = ["*"]
# Seconds a process keeps its list of custom domains at most (a change reloads it at once).
CUSTOM_HOSTS_MAX_AGE_SECONDS = env.float("CUSTOM_HOSTS_MAX_AGE_SECONDS", default=60)
# The TXT lookup that verifies a custom domain gives up after this long.
DOMAIN_DNS_TIMEOUT_SECONDS = env.float("DOMAIN_DNS_TIMEOUT_SECONDS", default=5)
# Resolvers asked for that lookup (IP addresses); empty: the machine's own (/etc/resolv.conf).
DOMAIN_DNS_NAMESERVERS = env.list("DOMAIN_DNS_NAMESERVERS", default=[])
DOMAIN_DNS_PORT = env.int("DOMAIN_DNS_PORT", default=53)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- applications -------------------------------------------------------------------------------

SHARED_APPS = [
    # Before django_tenants: our `migrate_schemas`/`migrate` also keep the template schema current.
    "tenants",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "huey.contrib.djhuey",
    "ninja",
    "ninja_jwt",
    "ninja_jwt.token_blacklist",
    "django_htmx",
    # The user model lives in both: super-admins in `public`, each company's users in its schema.
    "apps.accounts",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "ninja_jwt.token_blacklist",
    "apps.accounts",
    "apps.inboxes",
    "apps.teams",
    "apps.contacts",
    "apps.conversations",
    "apps.media",
    "apps.audit",
    "apps.notifications",
    "apps.exports",
    "apps.mail",
    "apps.campaigns",
    "apps.reports",
    "apps.teamchat",
    "apps.automation",
    "apps.webhooks",
    "apps.knowledge",
    "apps.tasks",
    "apps.flows",
    "apps.web",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Company"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New companies are cloned from this schema, which `migrate_schemas` keeps current.
TENANT_BASE_SCHEMA = env.str("TENANT_TEMPLATE_SCHEMA", default="tenant_template")
TENANT_CREATION_FAKES_MIGRATIONS = True
# Schemas cloned ahead of time so that a new company is a rename (see tenants/schema_pool.py).
TENANT_SCHEMA_POOL_SIZE = env.int("TENANT_SCHEMA_POOL_SIZE", default=3)
# Requests a web process runs through Django at once (`conversa.asgi_handler`); more wait their turn.
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=4)
PUBLIC_SCHEMA_URLCONF = "conversa.urls_public"
ROOT_URLCONF = "conversa.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "conversa.middleware.health.HealthCheckMiddleware",
    "conversa.middleware.metrics.RequestMetricsMiddleware",
    "conversa.middleware.hosts.HostValidationMiddleware",
    "conversa.middleware.api_errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "conversa.middleware.request_meta.RequestMetaMiddleware",
    "conversa.middleware.tenant.TenantFromHostMiddleware",
    "conversa.middleware.sentry_scope.SentryScopeMiddleware",
    "conversa.middleware.plan.PlanEnforcementMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "conversa.middleware.ratelimits.RateLimitMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.web.middleware.UserLanguageMiddleware",
    "apps.web.middleware.CompanyTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT_DIR / "platform" / "conversa" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "apps.web.context_processors.branding",
                "apps.web.context_processors.ui_strings",
            ],
        },
    },
]

WSGI_APPLICATION = "conversa.wsgi.application"
ASGI_APPLICATION = "conversa.asgi.application"

# --- data ---------------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/conversa")}
# django-tenants' backend, which behind PgBouncer sets the search_path per statement (see its docstring).
DATABASES["default"]["ENGINE"] = "conversa.postgresql_backend"
# DATABASE_URL points at PgBouncer in transaction pooling mode: no session-level SET search_path
# (it would reach other clients' transactions), a SET LOCAL in every statement instead.
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", default=False)
DATABASES["default"]["TRANSACTION_POOLING"] = DB_PGBOUNCER
# Persistent connections are unsafe under ASGI (threads of sync_to_async may never close them).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A pool of open connections per process: a new server connection (a backend process start plus
# its catalog cache warm-up) per request and per task cost more CPU than the work itself. Django
# hands a connection back at the end of each request/task; django-tenants re-issues the tenant's
# search_path on the first cursor after every checkout, so no checkout carries a previous schema.
# Behind PgBouncer the pooler does this job (a client connection to it is cheap): off by default.
DB_POOL = env.bool("DB_POOL", default=not DB_PGBOUNCER)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool refuses persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        # Per process: a uvicorn worker runs sync code on one thread, a Huey consumer on its threads.
        "max_size": env.int("DB_POOL_MAX_SIZE", default=16),
        "timeout": env.float("DB_POOL_TIMEOUT_SECONDS", default=10),
    }
# One SET search_path per checkout and tenant switch, not one per cursor (the backend forgets it on
# close, rollback and every set_tenant/schema_context).
TENANT_LIMIT_SET_CALLS = True
DATABASE_ROUTERS = ["tenants.databases.CompanyDatabaseRouter", "django_tenants.routers.TenantSyncRouter"]
# More PostgreSQL servers for companies (README "Past one server"): `alias=url` pairs separated by
# commas. A company whose `database` names an alias lives there; the platform's tables stay on
# `default`. Each gets the main database's engine and options (pool included).
COMPANY_DATABASES = ["default"]
for _pair in filter(None, (p.strip() for p in env.str("DATABASE_SHARDS", default="").split(","))):
    _alias, _, _url = _pair.partition("=")
    _shard = env.db_url_config(_url.strip())
    COMPANY_DATABASES.append(_alias.strip())
    DATABASES[_alias.strip()] = {
        **DATABASES["default"], "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        **{key: _shard.get(key, "") for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
    }
# Seconds a process trusts its map of which database holds which company (moving one: README).
DATABASE_MAP_MAX_AGE_SECONDS = env.float("DATABASE_MAP_MAX_AGE_SECONDS", default=30)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Prefix of our own Redis keys (rate limits, throttles), so several deployments can share a Redis.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="conversa")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

CHANNEL_LAYERS = {
    "default": {
        # Redis pub/sub: a group message is published once, not written once per server process
        # and popped by every socket (see conversa/realtime/layers.py). The sorted-set layer,
        # "channels_redis.core.RedisChannelLayer", works with the same consumer and settings.
        "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="conversa.realtime.layers.RealtimeChannelLayer"),
        "CONFIG": {
            # redis-py 8 defaults socket_timeout to 5 s, which silently drops idle websockets.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default="conversa"),
            # Frames waiting for one socket; past it the oldest are dropped.
            "capacity": 1000,
            "expiry": 30,  # the sorted-set layer only: seconds a message waits in Redis
        },
    }
}

# A socket that has not authenticated within this many seconds is closed with 4401.
REALTIME_AUTH_TIMEOUT_SECONDS = env.float("REALTIME_AUTH_TIMEOUT_SECONDS", default=10)

HUEY = {
    # One queue per company served in turn: a company's burst does not hold back the others' tasks.
    "huey_class": "conversa.fairqueue.FairRedisHuey",
    "name": env.str("HUEY_NAME", default="conversa"),
    "url": REDIS_URL,
    # djhuey would otherwise run tasks inline whenever DEBUG is on.
    "immediate": env.bool("HUEY_IMMEDIATE", default=False),
    "utc": True,
    "consumer": {"workers": env.int("HUEY_WORKERS", default=4), "worker_type": "thread"},
}
# A consumer process passes over a company already running this many of its tasks while another
# company waits (`conversa.fairqueue`); 0 turns it off. By default every process keeps a thread free.
HUEY_COMPANY_MAX_THREADS = env.int(
    "HUEY_COMPANY_MAX_THREADS", default=max(1, HUEY["consumer"]["workers"] - 1)
)
# The minute's housekeeping visits companies in batches of this many (one task each), spread over
# this many seconds (`conversa.periodic`).
PERIODIC_BATCH_SIZE = env.int("PERIODIC_BATCH_SIZE", default=100)
PERIODIC_SPREAD_SECONDS = env.float("PERIODIC_SPREAD_SECONDS", default=50)

# --- identity -----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 8}},
    {"NAME": "apps.accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Argon2id first: a PBKDF2 hash of an older install is upgraded at its user's next login.
PASSWORD_HASHERS = [
    "apps.accounts.hashers.ConversaArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
# Argon2id cost (never below OWASP's minimum of 2 passes over 19 MiB, 1 lane): ~50 ms on 2 cores.
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_MEMORY_KIB = env.int("ARGON2_MEMORY_KIB", default=19 * 1024)

NINJA_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_TOKEN_CLASSES": ["apps.accounts.tokens.TenantAccessToken"],
}

LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
LOGIN_ATTEMPTS_PER_IP_PER_MINUTE = env.int("LOGIN_ATTEMPTS_PER_IP_PER_MINUTE", default=10)
# Requests per minute per user or API key (SPEC §13), shared by every web process through Redis:
# `general` counts every API request; sends, uploads and exports count on the API and the UI.
RATE_LIMITS_PER_MINUTE = {
    "general": env.int("RATE_LIMIT_GENERAL_PER_MINUTE", default=600),
    "sends": env.int("RATE_LIMIT_SENDS_PER_MINUTE", default=60),
    "uploads": env.int("RATE_LIMIT_UPLOADS_PER_MINUTE", default=20),
    "exports": env.int("RATE_LIMIT_EXPORTS_PER_MINUTE", default=5),
}
# Wrong two-factor codes (TOTP or backup) per account before a 429, and the window they count in.
OTP_FAILURES_PER_ACCOUNT = env.int("OTP_FAILURES_PER_ACCOUNT", default=5)
OTP_FAILURE_WINDOW_SECONDS = env.int("OTP_FAILURE_WINDOW_SECONDS", default=15 * 60)
# Honour X-Forwarded-For only behind a proxy that sets it; otherwise clients could pick their IP.
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)

# --- email -------------------------------------------------------------------------------------

# SMTP when EMAIL_HOST is set; otherwise development mail is written as files under EMAIL_FILE_PATH
# (`make run` prints where). EMAIL_BACKEND overrides both (e.g. the console backend).
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=bool(EMAIL_HOST))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=(
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend"
))
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=str(ROOT_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"no-reply@{BASE_DOMAIN}")
# A failed send is retried this many times, after EMAIL_RETRY_DELAY_SECONDS, doubling each time.
EMAIL_SEND_RETRIES = env.int("EMAIL_SEND_RETRIES", default=6)
EMAIL_RETRY_DELAY_SECONDS = env.int("EMAIL_RETRY_DELAY_SECONDS", default=30)
# Port of the links in emails sent without a request (trial reminders), e.g. 8000 in development.
PUBLIC_PORT = env.str("PUBLIC_PORT", default="")
# Invitation links and password reset links stay valid this long.
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
# Reset requests accepted per address and per client IP, each per hour (then 429).
PASSWORD_RESET_PER_EMAIL_PER_HOUR = env.int("PASSWORD_RESET_PER_EMAIL_PER_HOUR", default=3)
PASSWORD_RESET_PER_IP_PER_HOUR = env.int("PASSWORD_RESET_PER_IP_PER_HOUR", default=20)

# A company whose cancellation was asked for keeps working this many days, then is cancelled.
COMPANY_CANCEL_GRACE_DAYS = env.int("COMPANY_CANCEL_GRACE_DAYS", default=30)
# Days a cancelled company's data is kept (an operator can still activate it) before it is purged.
COMPANY_PURGE_AFTER_DAYS = env.int("COMPANY_PURGE_AFTER_DAYS", default=30)

# --- messaging ----------------------------------------------------------------------------------

# Fernet keys for provider credentials at rest, newest first: add a new key in front to rotate,
# run `manage.py rotate_credentials`, then drop the old key. Defaults to one derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Outbound HTTP (provider base URLs, webhooks, flow nodes) may reach private or loopback
# addresses only when this is on: development and tests, never production.
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)
# Public base URL of tenant hosts as providers reach them (webhook URLs shown to admins).
PUBLIC_SCHEME = env.str("PUBLIC_SCHEME", default="http" if DEBUG else "https")
# Meta and Twilio webhooks are stored by a plain-ASGI path (apps/inboxes/fast_webhooks.py) when it
# is certain Django would store them; off, every webhook goes through Django.
WEBHOOK_FAST_PATH = env.bool("WEBHOOK_FAST_PATH", default=True)
# How long the inbox's list of labels in use is cached (dropped at once when a label is set; this
# bounds how long an erased conversation's labels stay on it). See apps/conversations/labels.py.
INBOX_LABELS_CACHE_SECONDS = 600

# --- media ----------------------------------------------------------------------------------------

# clamd: a Unix socket if set, else TCP host and port.
CLAMD_SOCKET = env.str("CLAMD_SOCKET", default="")
CLAMD_HOST = env.str("CLAMD_HOST", default="127.0.0.1")
CLAMD_PORT = env.int("CLAMD_PORT", default=3310)
CLAMD_TIMEOUT_SECONDS = env.float("CLAMD_TIMEOUT_SECONDS", default=30)
MEDIA_MAX_BYTES = {
    "image": env.int("MEDIA_MAX_IMAGE_BYTES", default=16 * 1024 * 1024),
    "video": env.int("MEDIA_MAX_VIDEO_BYTES", default=16 * 1024 * 1024),
    "audio": env.int("MEDIA_MAX_AUDIO_BYTES", default=16 * 1024 * 1024),
    "document": env.int("MEDIA_MAX_DOCUMENT_BYTES", default=100 * 1024 * 1024),
}
# Signed download URLs stay valid this long.
MEDIA_URL_TTL_SECONDS = env.int("MEDIA_URL_TTL_SECONDS", default=300)
# Contact imports (CSV/XLSX): larger uploads are refused with 413 before their body is read.
CONTACT_IMPORT_MAX_BYTES = env.int("CONTACT_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# An import whose run has committed no batch for this long is taken to be dead and run again from
# its last committed batch (a batch takes about a quarter of a second).
IMPORT_STALE_SECONDS = env.int("IMPORT_STALE_SECONDS", default=120)
# Signed export download links stay valid this long.
EXPORT_URL_TTL_SECONDS = env.int("EXPORT_URL_TTL_SECONDS", default=300)
# A ready export's file is deleted this long after it was made (the row stays, `expired`).
EXPORT_RETENTION_HOURS = env.int("EXPORT_RETENTION_HOURS", default=24)

# --- i18n ---------------------------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [ROOT_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(ROOT_DIR / "var" / "static"))
# Media files: the local filesystem (MEDIA_ROOT) by default, or any S3-compatible store.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE == "s3":
    MEDIA_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET"),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            # Files are private: they are only ever served through our signed, checked views.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    MEDIA_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": MEDIA_BACKEND,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Development serves static files straight from the apps; production from `collectstatic`.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(ROOT_DIR / "var" / "media"))

# --- security -----------------------------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Each company's sessions live in its own schema and the cookie stays on its own host (no
# SESSION_COOKIE_DOMAIN): a cookie of one company means nothing on another's host.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "web:login"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on the pages: scripts and styles only from our own static
# files or a <style> carrying the response's nonce; no inline script, no inline event handlers, no
# eval (htmx is configured not to need it), no style attributes. connect-src 'self' covers fetch,
# htmx and the same-origin websocket. The JSON APIs (their Swagger pages load a CDN's bundle),
# webhooks and media files are left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/", "/platform/", "/hooks/", "/media/"],
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

# --- observability ------------------------------------------------------------------------------

SENTRY_DSN = env.str("SENTRY_DSN", default="")
# `GET /metrics` on BASE_DOMAIN answers `Authorization: Bearer <METRICS_TOKEN>`; unset: 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Companies with their own series in /metrics (the busiest this month first).
METRICS_COMPANY_SERIES = env.int("METRICS_COMPANY_SERIES", default=500)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# dictConfig(LOGGING), then tokens and link signatures redacted from uvicorn's request log lines.
LOGGING_CONFIG = "conversa.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handler would print every request warning a second time.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # run_huey installs its own handler on this logger.
        "huey": {"handlers": [], "level": LOG_LEVEL, "propagate": False},
    },
}

if SENTRY_DSN:
    from conversa.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- campaigns ------------------------------------------------------------------------------------
# Campaign senders working at once across all workers (each takes one Huey thread while it sends).
CAMPAIGN_SENDERS_MAX = env.int("CAMPAIGN_SENDERS_MAX", default=2)
# Sends one campaign sender keeps in flight at once (threads, ~120/s each), for fast inboxes.
CAMPAIGN_SEND_LANES_MAX = env.int("CAMPAIGN_SEND_LANES_MAX", default=6)
# How long a send interrupted mid-request may stay unconfirmed by the provider before it is retried.
CAMPAIGN_UNSETTLED_GRACE_SECONDS = env.int("CAMPAIGN_UNSETTLED_GRACE_SECONDS", default=300)

# --- outbound webhooks ----------------------------------------------------------------------------
# Seconds one delivery attempt may take (connect, send and answer) before it counts as failed.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Attempts per delivery; the waits between them triple from WEBHOOK_RETRY_BASE_SECONDS (8 attempts
# from 80 s: about 24 hours in all).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=80)
# An endpoint whose attempts failed this many times in a row is disabled and its admins notified.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
# Attempts in flight at once, across all workers, to endpoints not known to answer well (new, failed
# since their last success, or slower than WEBHOOK_SLOW_SECONDS): the other workers stay free.
WEBHOOK_SUSPECT_WORKERS = env.int("WEBHOOK_SUSPECT_WORKERS", default=1)
WEBHOOK_SLOW_SECONDS = env.float("WEBHOOK_SLOW_SECONDS", default=2)
# Finished deliveries (delivered or given up) stay in the log this many days.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
