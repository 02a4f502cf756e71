"""Settings for the customer portal, read from the environment.

With nothing set the portal runs embedded: SQLite, DEBUG on, mail to the console and
Celery tasks executed in-process. With ``DEBUG=0`` it refuses to start unless
``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL`` are given (S17). Every variable is
documented in ``.env.example`` and README.
"""

from datetime import timedelta
from pathlib import Path

import bootstrap_wrapper
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)

_REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL")
if not DEBUG:
    _missing = [name for name in _REQUIRED_IN_PRODUCTION if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DEBUG is off, so these environment variables must be set: "
            + ", ".join(_missing)
            + ". See .env.example."
        )

# With DEBUG on and no SECRET_KEY, a random development key is made once per checkout
# (kept in .dev-secret-key, which git ignores), so links in mail survive a restart of the
# development server. There is never a fixed fallback secret.
if env.str("SECRET_KEY", default=""):
    SECRET_KEY = env.str("SECRET_KEY")
else:
    import secrets

    _dev_key_file = BASE_DIR / ".dev-secret-key"
    try:
        SECRET_KEY = _dev_key_file.read_text().strip()
    except OSError:
        SECRET_KEY = ""
    if len(SECRET_KEY) < 50:
        SECRET_KEY = "dev-insecure-" + secrets.token_urlsafe(40)
        try:
            _dev_key_file.write_text(SECRET_KEY)
            _dev_key_file.chmod(0o600)
        except OSError:
            pass
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# The key for the stored hashes of one-time secrets (backup codes, invitation tokens,
# grant keys, confirmation nonces). Set it apart from SECRET_KEY so that rotating
# SECRET_KEY does not void them.
TOKEN_HASH_KEY = env.str("TOKEN_HASH_KEY", default="") or SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "guardian",
    "axes",
    "csp",
    "accounts",
    "billing",
    "hosting",
    "contacts",
    "delegation",
    "helpdesk",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the user read together with the session (portal/sessions.py).
    "portal.sessions.AuthenticationMiddleware",
    # django-otp's, with the device read together with the session (portal/sessions.py).
    "portal.sessions.OTPMiddleware",
    "portal.middleware.SessionGuardMiddleware",
    "portal.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Widget templates come from TEMPLATES too, so templates/ can fix Django's own widgets
# (templates/admin/widgets/split_datetime.html labels its two inputs).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "portal.context_processors.portal",
            ],
            # {% url %} through portal.links.reverse: links with whole numbers without
            # resolving the view name each time; |date with its format read once
            # (portal.dateformats). Both answer as Django's do (make bench).
            "builtins": ["portal.links", "portal.dateformats"],
        },
    },
    {
        # The rows of the list pages' tables (portal.jinja, make bench).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja_templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "portal.jinja.environment"},
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: without them a simple page lost 60% of its throughput here.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # make run: SQLite builds the agency dashboard's index without its included column
    # (delegation.DelegatedAccount); the list is the same, PostgreSQL only reads it faster.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# The two queries of every signed-in request are prepared on each PostgreSQL connection
# (portal.prepared). Off behind a pooler that hands connections out per transaction.
PREPARED_STATEMENTS = env.bool("PREPARED_STATEMENTS", default=True)
# PostgreSQL's Memoize plans, off on the portal's connections (portal.pgsettings).
PG_MEMOIZE = env.bool("PG_MEMOIZE", default=False)
# Prepared statements run their generic plan from the first call (portal.pgsettings).
PG_GENERIC_PLANS = env.bool("PG_GENERIC_PLANS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Redis, falling back to process memory while Redis is down (S26).
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions live in the database so that pages keep serving when Redis is down (S26)
# and so that one person's sessions can be found and ended (S5); the store reads the
# session's UserSession row and its user in the same query, for the authentication and
# the session guard.
SESSION_ENGINE = "portal.sessions"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

# Sign-in throttling (S12): lock the pair of account and address, so that an attacker
# elsewhere cannot lock a person out.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
AXES_VERBOSE = False
AXES_USERNAME_FORM_FIELD = "username"

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Customer portal")
OTP_TOTP_TOLERANCE = 1  # at most one step of drift (S13)
OTP_TOTP_THROTTLE_FACTOR = 1

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German")), ("hu", _("Hungarian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", bootstrap_wrapper.get_bootstrap_dir())]
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
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # uploads are only served through access-checked views

# Mail: every message is sent from a Celery task (portal.mail).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Customer portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@localhost")
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# Celery: Redis as broker; with no broker configured, tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# With the broker down, publishing gives up quickly: the page still serves and the outbox
# job sends the mail later (S26).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "send-pending-mail": {"task": "portal.tasks.flush_outbox", "schedule": 60.0},
    "expire-invitations": {"task": "accounts.tasks.expire_invitations", "schedule": 15 * 60.0},
}
# Contacts (K4, K12): clear expired pending addresses, end time-limited authorisations.
CELERY_BEAT_SCHEDULE["contacts-clear-expired-pending"] = {
    "task": "contacts.tasks.clear_expired_pending_addresses",
    "schedule": 60.0 * 60,
}
CELERY_BEAT_SCHEDULE["contacts-end-expired-authorisations"] = {
    "task": "contacts.tasks.end_expired_authorisations",
    "schedule": 60.0 * 5,
}
# Delegation (D3, D6): expire ended grants and unused keys, remind a week before the end,
# blank sent key mails. Expiry is also checked on every request; these only record it.
CELERY_BEAT_SCHEDULE["delegation-expire-grants"] = {
    "task": "delegation.tasks.expire_grants",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["delegation-remind-grants"] = {
    "task": "delegation.tasks.remind_grants",
    "schedule": 60.0 * 15,
}
CELERY_BEAT_SCHEDULE["delegation-redact-key-mails"] = {
    "task": "delegation.tasks.redact_key_mails",
    "schedule": 60.0,
}

PDNS_API_URL = env.str("PDNS_API_URL", default="")
PDNS_API_KEY = env.str("PDNS_API_KEY", default="")
# The provider's authoritative name servers: every zone the portal creates in PowerDNS
# (customers' zones and reverse zones) gets them as its NS records.
DNS_NAMESERVERS = [
    name if name.endswith(".") else f"{name}."
    for name in (n.strip().lower() for n in env.list("DNS_NAMESERVERS", default=[]))
    if name
]
# DNS changes still waiting for PowerDNS are pushed again every minute (hosting, S26).
CELERY_BEAT_SCHEDULE["push-pending-dns"] = {"task": "hosting.tasks.push_pending", "schedule": 60.0}

# Sessions (S15): an idle timeout (checked against the session record's last activity,
# so no session write per request) and an absolute lifetime.
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=60 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
# Sensitive changes (delegations, two-factor, users) need the person to have proved who
# they are within this many seconds: at sign-in, or again with a code (STYLE).
RECENT_AUTH_SECONDS = env.int("RECENT_AUTH_SECONDS", default=15 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Limits
INVITATIONS_PER_DAY = env.int("INVITATIONS_PER_DAY", default=50)
WRONG_KEY_LIMIT = "10/h"
MAX_ATTACHMENT_BYTES = env.int("MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
MAX_ATTACHMENTS = env.int("MAX_ATTACHMENTS", default=10)
MAX_INBOUND_MAIL_BYTES = env.int("MAX_INBOUND_MAIL_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tokens in URLs ("Not Found: /password/reset/<token>/") are masked (S11).
    "filters": {"redact_tokens": {"()": "portal.redact.RedactTokensFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# --- Helpdesk mail intake (H2) ---------------------------------------------------------
# Mail to SUPPORT_EMAIL arrives either through `manage.py ingest_email` (an MTA pipe) or
# from this IMAP mailbox, polled by beat; with IMAP_HOST empty the poller does nothing.
IMAP_HOST = env.str("IMAP_HOST", default="")
IMAP_PORT = env.int("IMAP_PORT", default=993)
# TLS from the start (port 993); plain IMAP (IMAP_SSL=0) only on loopback, as in the tests.
IMAP_SSL = env.bool("IMAP_SSL", default=True)
IMAP_USER = env.str("IMAP_USER", default="")
IMAP_PASSWORD = env.str("IMAP_PASSWORD", default="")
IMAP_FOLDER = env.str("IMAP_FOLDER", default="INBOX")
# Processed mail is moved here; empty: it stays in IMAP_FOLDER, marked seen.
IMAP_DONE_FOLDER = env.str("IMAP_DONE_FOLDER", default="")
CELERY_BEAT_SCHEDULE["helpdesk-poll-imap"] = {"task": "helpdesk.tasks.poll_imap", "schedule": 60.0}
# RFC 3834: at most this many automatic acknowledgements per sender and hour (S21).
HELPDESK_ACKS_PER_SENDER_PER_HOUR = 3
# New tickets one sender may open by mail per hour; further mail is quarantined for staff.
HELPDESK_TICKETS_PER_SENDER_PER_HOUR = 10

# Access reviews (issue 7): ask owners whose review is due to check who can act.
CELERY_BEAT_SCHEDULE["accounts-remind-access-reviews"] = {
    "task": "accounts.tasks.remind_access_reviews",
    "schedule": 60.0 * 60,
}
