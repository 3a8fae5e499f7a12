"""Test settings: the real services, fast hashing, tasks inline unless a test starts a worker."""

import os
import tempfile

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-hmac-sha256-signing")
# CONVERSA_TEST_PGBOUNCER=127.0.0.1:PORT: this run's database connections (and those of the live
# servers and workers it starts, which inherit it) go through that PgBouncer in transaction pooling
# mode (tests/conversa/test_pgbouncer.py runs the isolation tests so).
if _pgbouncer := os.environ.get("CONVERSA_TEST_PGBOUNCER"):
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@{_pgbouncer}/conversa")
    os.environ["DB_PGBOUNCER"] = "true"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/conversa")
os.environ.setdefault("HUEY_IMMEDIATE", "true")
os.environ.setdefault("HUEY_NAME", f"conversa-test-{os.getpid()}")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"conversa-test-{os.getpid()}")
os.environ.setdefault("REDIS_KEY_PREFIX", f"conversa-test-{os.getpid()}")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Uploaded files of this run (shared with the live server and workers it starts), never the repo's var/.
os.environ.setdefault("MEDIA_ROOT", os.path.join(tempfile.gettempdir(), f"conversa-test-media-{os.getpid()}"))
# The fake providers listen on 127.0.0.1.
os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE", "true")
# Every test logs in from 127.0.0.1; the throttle's own test lowers this again.
os.environ.setdefault("LOGIN_ATTEMPTS_PER_IP_PER_MINUTE", "100000")
# The session's companies' admins act in hundreds of tests a minute; the rate limits' own tests
# lower these (settings fixture, or the live servers' environment).
for _budget in ("GENERAL", "SENDS", "UPLOADS", "EXPORTS"):
    os.environ.setdefault(f"RATE_LIMIT_{_budget}_PER_MINUTE", "100000")

from conversa.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": MEDIA_BACKEND,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # static files come from the apps (finders) in tests
# One test database per run: concurrent runs on one machine (or one CI host) never clobber each other.
DATABASES["default"]["TEST"] = {"NAME": f"test_conversa_{os.getpid()}"}  # noqa: F405
# Live tests make hundreds of HTTP calls; their request lines only bury real failures.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}  # noqa: F405
# clamd: the one tests/fixtures/clamd.py starts for the session (it exports its socket), never a
# developer's clamd from .env; without that fixture scanning fails as "unavailable".
CLAMD_SOCKET = os.environ.get("CONVERSA_TEST_CLAMD_SOCKET") or "/nonexistent/conversa-test-clamd.sock"
# No schemas cloned ahead in tests (each clone costs a fraction of a second); the pool's own tests set it.
TENANT_SCHEMA_POOL_SIZE = 0
# The inbox's cached labels would outlive a test's rolled-back rows, whose rollback bumps nothing:
# not cached, but in the cache's own tests.
INBOX_LABELS_CACHE_SECONDS = 0
