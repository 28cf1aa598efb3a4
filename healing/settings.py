"""Healing settings: one module, read from the environment.

SQLite and a filesystem Celery broker by default so a fresh clone just runs; production sets
DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY and DEBUG=0.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HEALING_VAR_DIR", BASE_DIR / "var"))


def envbool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def envint(name, default):
    return int(os.environ.get(name, default))


def envlist(name, default=""):
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Absolute links in invitations, QR codes and command output point here.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "axes",
    # Ours, from the bottom layer up (docs/architecture.md); `measurement` is pure Python, not an app.
    "plumbing",
    "audit",
    "surveys",
    "figures",
    "reports",
    "interchange",
    "demo",
    "messaging",
    "api",
    "front",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files from the web process itself (compressed, cacheable): no separate file server to run.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # django-axes: after authentication, as its docs ask
    # Refuses oversized bodies before anything reads them (CSRF reads POST). Its __call__ runs before any view
    # middleware reads a body wherever it stands, so it stands last: its 413 page then passes back through every
    # other middleware (language, X-Frame-Options, CSP).
    "plumbing.middleware.RequestSizeLimitMiddleware",
]

ROOT_URLCONF = "healing.urls"
WSGI_APPLICATION = "healing.wsgi.application"

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
                "front.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'healing.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    if envbool("DATABASE_POOL", True):
        # psycopg 3's pool replaces persistent connections (CONN_MAX_AGE must stay 0).
        DATABASES["default"]["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": envint("DATABASE_POOL_MAX", 10), "timeout": 10}
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", 0)
else:
    # The web process, the worker and its heartbeat share the file. Wait for a writer instead of failing at once
    # (timeout); take the write lock when a transaction begins (IMMEDIATE), since SQLite answers "database is
    # locked" at once, without waiting, to a transaction that read and then wants to write while another writes;
    # and let pages read while a report writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    )
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies made by collectstatic (the Docker image runs it); no manifest, so tests and
    # `make run` need no collectstatic step.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (make run, tests) WhiteNoise serves straight from the finders.
WHITENOISE_USE_FINDERS = envbool("WHITENOISE_USE_FINDERS", True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request when it is missing
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "healing@localhost")
# SMTP, for EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)

# Invitations: how long a questionnaire link stays valid.
INVITATION_TTL_DAYS = envint("INVITATION_TTL_DAYS", 14)

# Celery. The default broker needs no server: kombu's filesystem transport in var/broker, with messages written
# whole before a worker can see them (plumbing/broker.py).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "plumbing.broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Longer than the longest task, so Redis does not hand an unacked task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 1800)
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 1500)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Patient link tokens never reach a log (plumbing/redaction.py): Django's request warnings and runserver's
    # request lines go through handlers that redact them, in every DEBUG setting.
    "filters": {"redact_tokens": {"()": "plumbing.redaction.RedactTokensFilter"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact_tokens"]},
    },
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Reports and schedules ---

# Built report files (HTML + ZIP): private like MEDIA, but never served by URL: downloads go through views
# that check permission. Shared by the web and worker processes (one volume in docker-compose.yml).
REPORTS_DIR = Path(os.environ.get("REPORTS_DIR", VAR_DIR / "reports"))
# A queued or running report older than this may be retried by a manager (its messages were lost).
REPORTS_STALE_AFTER = envint("REPORTS_STALE_AFTER", CELERY_TASK_TIME_LIMIT + 600)
# Also build every clinician's own report in the monthly run (off by default: it doubles the run's work, and
# clinicians can ask for theirs on the reports page in a moment).
REPORTS_MONTHLY_CLINICIAN_REPORTS = envbool("REPORTS_MONTHLY_CLINICIAN_REPORTS", False)
# Tests only: seconds each clinician section sleeps, so a test can kill a worker mid-report. Unset: no delay.
REPORTS_TEST_DELAY = float(os.environ.get("REPORTS_TEST_DELAY", "0") or 0)

# Every worker says it is alive this often (plumbing/workers.py); pages waiting for a worker say so when none has
# been seen for WORKER_SILENT_AFTER seconds.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "15"))
WORKER_SILENT_AFTER = float(os.environ.get("WORKER_SILENT_AFTER", "60"))

# Reports and email on their own queues, so workers scale out per queue; a worker started without -Q
# consumes all three (CELERY_TASK_QUEUES), as `make run` and the compose worker do.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("reports"), Queue("email"))
CELERY_TASK_ROUTES = {
    "reports.tasks.notify_report_ready": {"queue": "email"},
    "reports.tasks.*": {"queue": "reports"},
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Last month's reports for every practice, early on the 1st.
    "monthly-reports": {
        "task": "reports.tasks.build_monthly_reports",
        "schedule": crontab(minute=30, hour=2, day_of_month=1),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule"))
# With acks_late, a task cut off by a lost broker connection is redelivered anyway; say so explicitly
# (and silence Celery's 5.x warning about the coming default).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport polls its folder (1 s by default): a report fans out a task per clinician,
    # so poll more often; a directory listing is cheap.
    CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("polling_interval", 0.2)

# --- Audit trail ---

# --- Reliability and security (docs/security.md) ---
# Production is DEBUG=0 with SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL set; everything below then defaults to
# the strict choice, and `manage.py check --deploy --fail-level WARNING` passes (tests/system/test_security.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# HTTPS. Behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=1: the proxy must set
# X-Forwarded-Proto itself and drop any the client sent. HSTS for a year, subdomains included; the preload
# directive only makes the site eligible for browsers' preload lists (submitting it is a separate, manual step).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Survey pages override this with no-referrer (their URLs hold the token: front.survey_views.survey_page).
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Cookies: Secure whenever DEBUG is off (SECURE_COOKIES=0 only for plain-HTTP test servers on loopback);
# HttpOnly everywhere: no script reads them (forms carry the CSRF token in a hidden field).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

# Content Security Policy (django-csp 4, which Django 6's own CSP support is modelled on). No inline script or
# style anywhere: pages run only static/js files, plotly's and htmx's would-be injected CSS is served as static
# files (static/css/plotly.css, static/css/strict-csp.css), so style-src needs no 'unsafe-inline' either.
# img-src data: is Bootstrap's form icons (SVG data URIs in its CSS) and plotly's image export.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Cache: Redis when CACHE_URL or REDIS_URL is set, so every web process counts rate limits together (add and
# incr are atomic there); otherwise LocMemCache: atomic within one process, which is all `make run` has. (A
# file-based cache would be shared but not atomic, so it would miscount under concurrency.)
_cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL", "")
if _cache_url.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url, "KEY_PREFIX": "healing"}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "healing"}}

# Patient links: per client address, every request (generous: a waiting room shares one address) and links
# that do not exist (strict: that is what guessing looks like). "0" turns a limit off. plumbing/ratelimit.py.
SURVEY_RATE_LIMIT = os.environ.get("SURVEY_RATE_LIMIT", "120/m")
SURVEY_MISS_LIMIT = os.environ.get("SURVEY_MISS_LIMIT", "20/10m")
# Short codes typed from a QR card (60 bits): codes not found per client address before every code is refused
# until the window ends (plumbing.ratelimit.limit_short_codes; docs/security.md).
SURVEY_CODE_MISS_LIMIT = os.environ.get("SURVEY_CODE_MISS_LIMIT", "10/h")
# New reports one person may ask for in 24 hours (the command line and the schedule are not limited); 0: no limit.
REPORT_REQUESTS_PER_DAY = envint("REPORT_REQUESTS_PER_DAY", 20)
# Password-reset requests per client address and per e-mail address (each one sends a mail).
PASSWORD_RESET_LIMIT = os.environ.get("PASSWORD_RESET_LIMIT", "5/h")
# The EHR API: bad keys per client address (past it, 429 for bad keys only: a live key is never locked out), and
# requests per key (each integration its own allowance). api/views.py.
API_KEY_MISS_LIMIT = os.environ.get("API_KEY_MISS_LIMIT", "20/10m")
API_KEY_RATE_LIMIT = os.environ.get("API_KEY_RATE_LIMIT", "300/m")
# Proxies in front of the app whose X-Forwarded-For may be believed (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)

# Staff sign-in: django-axes locks a username at one address after AXES_FAILURE_LIMIT failures, for
# AXES_COOLOFF_MINUTES (each attempt while locked starts the wait again). `manage.py axes_reset_username` lifts it.
AXES_ENABLED = envbool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "plumbing.ratelimit.client_address"
AXES_LOCKOUT_CALLABLE = "plumbing.middleware.locked_out"
AXES_USERNAME_CALLABLE = "plumbing.middleware.axes_username"

# Request bodies. A questionnaire posts about 1 KB and the visit import's file is at most 2 MB; anything
# larger gets the 413 page (plumbing/middleware.py), too many fields a 400 page, never a 500.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)  # form fields, files excluded
FILE_UPLOAD_MAX_MEMORY_SIZE = envint("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)  # larger uploads go to a temp file
DATA_UPLOAD_MAX_NUMBER_FIELDS = envint("DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000)  # the admin's bulk forms need hundreds
DATA_UPLOAD_MAX_NUMBER_FILES = envint("DATA_UPLOAD_MAX_NUMBER_FILES", 5)
MAX_REQUEST_BODY_SIZE = envint("MAX_REQUEST_BODY_SIZE", 5 * 1024 * 1024)  # whole body, files included
# plotly.js clears colour-bar fills with setAttribute("style", ""): allow exactly the empty style attribute (the
# hash of ""), which can style nothing. Browsers without style-src-attr fall back to style-src and just block it.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src-attr"] = ["'unsafe-hashes'", "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"]
AXES_VERBOSE = envbool("AXES_VERBOSE", False)  # no banner on every manage.py command; failures are still logged

# --- Read replica (docs/scaling.md) ---
# DATABASE_REPLICA_URL: a PostgreSQL standby of DATABASE_URL. Dashboards and reports read from it inside
# plumbing.routers.use_replica(); every write, and every other read, stays on "default". Its connections are
# read-only, so no write can land there even by mistake. Tests use the primary for it (TEST MIRROR).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL)
    DATABASES["replica"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "options": "-c default_transaction_read_only=on",
    }
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["plumbing.routers.ReplicaRouter"]

# --- Data minimisation ---
CELERY_BEAT_SCHEDULE["purge-spent-contacts"] = {
    # Patients' email and phone go once their link is used or expired (docs/security.md, issue 6).
    "task": "surveys.purge_spent_contacts",
    "schedule": crontab(minute=15, hour="*/6"),
}

# --- EHR integration API (api/, docs/api.md) ---

# --- Invitations by email and SMS (messaging/, docs/messaging.md) ---
# One reminder this many days after a patient's link was sent, if the questionnaire is still open (0: none).
INVITATION_REMINDER_DAYS = envint("INVITATION_REMINDER_DAYS", 3)
# SMS backend, a dotted path (messaging/sms.py): the console one prints messages (development); the HTTP one
# posts {"to", "body"} as JSON to SMS_HTTP_URL (https, or http to loopback) with SMS_HTTP_TOKEN as bearer.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "messaging.sms.ConsoleSmsBackend")
SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")
SMS_HTTP_TIMEOUT = envint("SMS_HTTP_TIMEOUT", 10)
# Django's SMTP backend waits forever by default; a stuck mail server should fail the attempt and retry it.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
# Sending runs on its own queue so message workers scale apart from reports (docs/performance.md).
CELERY_TASK_QUEUES = CELERY_TASK_QUEUES + (Queue("messages"),)
CELERY_TASK_ROUTES["messaging.tasks.*"] = {"queue": "messages"}
CELERY_BEAT_SCHEDULE["invitation-reminders"] = {
    "task": "messaging.tasks.queue_reminders",
    "schedule": crontab(minute=5),  # hourly
}
CELERY_BEAT_SCHEDULE["self-assessment-reminders"] = {
    # Clinicians whose competencies self-assessment is due this period: one e-mail each per period (issue 14).
    "task": "messaging.tasks.send_self_assessment_reminders",
    "schedule": crontab(minute=30, hour=8),  # daily, in working hours
}

# --- No secret in a log (docs/security.md) ---
# The console backends print whole messages, patient links and password-reset links included, into the process's
# log. In development that is the point; in production it would put every secret link in the logs. So with DEBUG
# off they are refused, unless ALLOW_CONSOLE_BACKENDS=1 records that a person chose it.
_CONSOLE_BACKENDS = [
    name for name in (EMAIL_BACKEND, SMS_BACKEND) if ".console." in name or name.endswith(".ConsoleSmsBackend")
]
if _CONSOLE_BACKENDS and not DEBUG and not envbool("ALLOW_CONSOLE_BACKENDS", False):
    raise ImproperlyConfigured(
        f"{', '.join(_CONSOLE_BACKENDS)} would write patient links into the logs. With DEBUG=0 set EMAIL_BACKEND and "
        "SMS_BACKEND to real backends (docs/messaging.md), or ALLOW_CONSOLE_BACKENDS=1 to accept it."
    )
