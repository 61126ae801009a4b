"""Storyboard's settings: one file, read from the environment, failing loudly on bad values."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=""):
    return os.environ.get(name, default)


def envbool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def envnumber(name, default, kind=int):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a {kind.__name__}") from None


DEBUG = envbool("DEBUG", False)
# The development key signs sessions, links and invitations that anyone could forge: it
# only ever answers this machine (projects.middleware.development_key_stays_home), and a
# configuration serving other hosts with it fails its checks (projects.checks). SECRET_KEY,
# else the installation's own key (SECRET_KEY_FILE, below), replaces it.
DEVELOPMENT_KEY = "django-insecure-storyboard-local-only-set-SECRET_KEY"
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}
# Where the provider can reach this app (signed frame URLs, callbacks). Empty: not reachable.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL").rstrip("/")
if PUBLIC_BASE_URL:
    CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "auditlog",
    "axes",
    "django_ratelimit",
    "ninja",  # the API's interactive documentation, served from here rather than a CDN
    "projects",
]

MIDDLEWARE = [
    "projects.middleware.development_key_stays_home",
    "django.middleware.security.SecurityMiddleware",
    "projects.middleware.ApiErrors",  # the API's errors are JSON, whoever answers them
    # A PATCH (the API's cast) sends pictures as a form, which Django reads for POST alone.
    "ninja.compatibility.files.fix_request_files_middleware",
    "projects.middleware.StaticFiles",  # WhiteNoise, asynchronous under uvicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "projects.middleware.HtmxMessagesMiddleware",
    "projects.middleware.TooOftenMiddleware",
    "projects.middleware.audit_actor",
    "projects.middleware.RefusedUploads",
    # Last, as django-axes asks: it answers a locked-out sign-in itself.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a sign-in while its user or address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins are counted per user and per address; five in an hour lock that one out.
AXES_FAILURE_LIMIT = envnumber("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The proxies in front of the app (a TLS proxy, a load balancer) that append the address
# they saw to X-Forwarded-For. 0: the peer is the client and the header is ignored, since
# anyone may send it; N: the Nth entry from its end is the client (projects.addresses).
TRUSTED_PROXIES = envnumber("TRUSTED_PROXIES", 0)
AXES_CLIENT_IP_CALLABLE = "projects.addresses.client_address"

# The app's pages load scripts and styles from this app only, and run no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "media-src": ["'self'", "https:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Production: behind a TLS proxy that sets X-Forwarded-Proto, SECURE=true makes cookies
# secure, sends HSTS and redirects plain HTTP (README: Deployment).
SECURE = envbool("SECURE", False)
if SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envnumber("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # /healthz answers the load balancer over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

ROOT_URLCONF = "storyboard.urls"
ASGI_APPLICATION = "storyboard.asgi.application"
WSGI_APPLICATION = "storyboard.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and the command line share one file: wait for locks
    # instead of failing, and let readers go on while a writer writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # A server that accepts and never answers fails a connect in seconds, not never
    # (/healthz and every request would wait on it).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL and re.fullmatch(r"gw\d+", env("PYTEST_XDIST_WORKER")):
    # The test suite in parallel (pytest-xdist): each of its workers gets a Redis database
    # of its own, the base one plus the worker's number, so that two workers' task queues,
    # caches, live channels and leases (all keyed by names and ids both would use) never
    # meet. The processes a worker starts inherit both variables and agree with it.
    _redis = urlsplit(REDIS_URL)
    _db = int(_redis.path.strip("/") or 0) + int(env("PYTEST_XDIST_WORKER")[2:])
    REDIS_URL = urlunsplit(_redis._replace(path=f"/{_db}"))
Q_CLUSTER = {
    "name": "storyboard",
    "workers": envnumber("Q_WORKERS", 4),
    "timeout": 900,  # an export of a long sequence is the longest task
    "retry": 960,
    "max_attempts": 1,  # the pipeline decides about retries; a blind retry could bill twice
    "catch_up": False,
    "poll": 0.1,
    "label": "Tasks",
}
# The cache every process shares: rate limits count in it. Redis when configured, else
# a table of the database (made by a migration, so a fresh clone has it too).
CACHE_TABLE = "storyboard_cache"
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    Q_CLUSTER["orm"] = "default"
    CACHES = {"default": {"BACKEND": "projects.cache.DatabaseCache", "LOCATION": CACHE_TABLE}}


# How often one person, or one link's holders together, may comment, generate and export
# (django-ratelimit's rates: "20/m", "60/h", "5/10m"); past it, a 429 saying when to retry.
def envrate(name, default):
    value = env(name) or default
    if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate (e.g. 20/m, 60/h, 5/10m)")
    return value


COMMENT_RATE = envrate("COMMENT_RATE", "20/m")
GENERATE_RATE = envrate("GENERATE_RATE", "60/h")
EXPORT_RATE = envrate("EXPORT_RATE", "20/h")
# Test events (Send test event) a team's owners may send its webhooks, all together.
WEBHOOK_TEST_RATE = envrate("WEBHOOK_TEST_RATE", "10/h")
# Both caches above increment atomically; django-ratelimit knows neither by name.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
# A cache that cannot be reached lets requests through rather than refusing everyone.
RATELIMIT_FAIL_OPEN = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUDITLOG_DISABLE_REMOTE_ADDR = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # serve straight from the source tree: no collectstatic step
# Files browsers ask for at the site's root, whatever a page links: /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_ROOT = Path(env("MEDIA_ROOT") or BASE_DIR / "media")
# Media is never served at this URL (no route and no server maps it): every clip, frame
# and export goes through a view that checks who is asking.
MEDIA_URL = "/media/"

# Where clips, frames, posters and exports live: `local` (MEDIA_ROOT, one machine) or `s3`
# (a bucket every machine reaches). Code reaches them only through the storage API.
MEDIA_STORAGE = env("MEDIA_STORAGE").lower() or "local"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# django-storages' S3 settings, read when MEDIA_STORAGE=s3. Without keys or a region,
# boto3 looks in its usual places (AWS_DEFAULT_REGION, ~/.aws, an instance role).
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL") or None  # for S3-compatible services
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME") or None
# Objects stay private: no ACL is sent (the bucket's own applies; buckets without ACLs
# refuse one anyway), and the app hands out signed links that expire.
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = envnumber("AWS_QUERYSTRING_EXPIRE", 3600)
# A take is never overwritten, and neither is its file.
AWS_S3_FILE_OVERWRITE = False
if MEDIA_STORAGE == "s3":
    from botocore.config import Config  # imported here: it costs a third of a second

    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    # Short connects and few retries, so a storage that is down fails a request (and
    # /healthz) in seconds instead of minutes.
    AWS_S3_CLIENT_CONFIG = Config(
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
    )
elif MEDIA_STORAGE != "local":
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: use local or s3.")

# The installation's own key, which `up` makes (once, mode 0600) when it serves beyond
# this machine without SECRET_KEY; every process of the installation reads it here.
# Beside the SQLite database, or with a database server beside the media folder.
_LOCAL_DATA = (
    Path(DATABASES["default"]["NAME"]).parent
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    else MEDIA_ROOT.parent
)
SECRET_KEY_FILE = Path(env("SECRET_KEY_FILE") or _LOCAL_DATA / "secret.key")
SECRET_KEY = (
    env("SECRET_KEY")
    or (SECRET_KEY_FILE.read_text().strip() if SECRET_KEY_FILE.is_file() else "")
    or DEVELOPMENT_KEY
)

# The keys teams' gateway connections are sealed with (projects.vault): Fernet keys, the
# first sealing, all opening; without any, the installation's own, made once in this file.
GATEWAY_KEYS_SECRET = env("GATEWAY_KEYS_SECRET")
GATEWAY_KEYS_FILE = Path(env("GATEWAY_KEYS_FILE") or _LOCAL_DATA / "gateway-keys.key")
# Whether a team's gateway connection may point inside this network (loopback, private,
# link-local): never in production, where a team owner could otherwise make the workers
# send keys to, and read answers from, the server's own services. The test suite's
# simulators listen on 127.0.0.1.
GATEWAYS_ALLOW_INTERNAL = envbool("GATEWAYS_ALLOW_INTERNAL", False)
# Days a team's connection may stay paused (its key refused) before the takes still at
# its gateway are given up as failed: their reads stop while it is paused.
GATEWAYS_MAX_PAUSE_DAYS = float(env("GATEWAYS_MAX_PAUSE_DAYS") or 7)

DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
# Uploads (README: Deploying safely). The largest file of each kind, in MB, as the
# gateways take them; a picture's pixels, checked before anything decodes it.
MAX_IMAGE_MB = envnumber("MAX_IMAGE_MB", 30)
MAX_VIDEO_MB = envnumber("MAX_VIDEO_MB", 50)
MAX_AUDIO_MB = envnumber("MAX_AUDIO_MB", 15)
MAX_IMAGE_PIXELS = envnumber("MAX_IMAGE_PIXELS", 40_000_000)
# Files past this go to a temporary file as they arrive, and no file past the largest
# limit is kept at all (projects.uploads); a body past everything a shot may carry is
# refused before it is read (storyboard.asgi).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "projects.uploads.CappedUploadHandler",
]

# The video provider. No base URL means the local simulator, which `up` starts.
SEEDANCE_BASE_URL = env("SEEDANCE_BASE_URL").rstrip("/")
SEEDANCE_API_KEY = env("SEEDANCE_API_KEY")
# A known provider by name (README: Presets); the three below override its fields.
SEEDANCE_PRESET = env("SEEDANCE_PRESET")
SEEDANCE_API_STYLE = env("SEEDANCE_API_STYLE")
SEEDANCE_MODEL = env("SEEDANCE_MODEL")
# The gateway's chat model that breaks a script down into shots ("Break down with AI"):
# unset, the import stands on the parsers alone. It is asked at SCRIPT_BASE_URL, else at the
# video gateway's own address (the local simulator's with none), at /v1/chat/completions.
SCRIPT_MODEL = env("SCRIPT_MODEL")
SCRIPT_BASE_URL = env("SCRIPT_BASE_URL").rstrip("/")
SIMULATOR_PORT = envnumber("SIMULATOR_PORT", 8765)
SIMULATOR_DELAY = envnumber("SIMULATOR_DELAY", 12.0, float)
# Tiny clips without text or blurs, for tests and demos that never look at the pixels.
SIMULATOR_SMALL = envbool("SIMULATOR_SMALL", False)
# The frame rate of the simulator's clips (24, 25 or 30), as another gateway's might be.
SIMULATOR_FPS = envnumber("SIMULATOR_FPS", 24)
# Seconds between two reads of a task's status.
SEEDANCE_POLL_INTERVAL = envnumber(
    "SEEDANCE_POLL_INTERVAL", 10.0 if SEEDANCE_BASE_URL or SEEDANCE_PRESET else 1.0, float
)

# Limits of the provider shared by every worker; 0: the preset's (none for most).
SEEDANCE_CONCURRENCY = envnumber("SEEDANCE_CONCURRENCY", 0)
SEEDANCE_RPM = envnumber("SEEDANCE_RPM", 0)
# Requests a day (creates and reads), where the provider has a quota; 0: the preset's.
SEEDANCE_DAILY = envnumber("SEEDANCE_DAILY", 0)


# Price per million tokens, per model: "model=price,model=price" (no prices: none shown).
def envprices(name):
    prices = {}
    for item in filter(str.strip, env(name).split(",")):
        model, _, price = item.partition("=")
        try:
            prices[model.strip()] = float(price)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not model=price") from None
    return prices


SEEDANCE_PRICES = envprices("SEEDANCE_PRICES")
# A result file (video, last frame) larger than this is refused, and one whose download
# takes longer than this many seconds in all is given up (and tried again later).
SEEDANCE_MAX_DOWNLOAD_BYTES = envnumber("SEEDANCE_MAX_DOWNLOAD_BYTES", 2 * 1024**3)
SEEDANCE_DOWNLOAD_SECONDS = envnumber("SEEDANCE_DOWNLOAD_SECONDS", 900.0, float)
SEEDANCE_CURRENCY = env("SEEDANCE_CURRENCY", "$")

# Seconds after which a take nobody has touched is taken over by another worker. Longer
# than any single provider call (their timeout is a third of it), so a slow call is never
# mistaken for a dead worker.
PIPELINE_LEASE_SECONDS = envnumber("PIPELINE_LEASE_SECONDS", 90.0, float)
# Creates tried per take before a transient error is final.
PIPELINE_MAX_ATTEMPTS = envnumber("PIPELINE_MAX_ATTEMPTS", 6)
# Seconds a create whose answer was lost is looked for among the provider's tasks, whose
# lists lag behind creates, before its take stops as uncertain (never sent again by itself).
PIPELINE_FIND_SECONDS = envnumber("PIPELINE_FIND_SECONDS", 120.0, float)

# Webhooks (projects.webhooks). Endpoints on addresses inside this network (loopback,
# private, link-local...) are refused at save and at each send, unless this allows them.
WEBHOOKS_ALLOW_INTERNAL = envbool("WEBHOOKS_ALLOW_INTERNAL", False)
# Seconds a send may take to connect, and to wait for each read of the answer.
WEBHOOKS_CONNECT_TIMEOUT = envnumber("WEBHOOKS_CONNECT_TIMEOUT", 3.0, float)
WEBHOOKS_READ_TIMEOUT = envnumber("WEBHOOKS_READ_TIMEOUT", 5.0, float)
# Seconds a whole send may take, from connecting to the last byte read of the answer: an
# endpoint that dribbles its answer a byte at a time is cut off here (well under the lease).
WEBHOOKS_SEND_SECONDS = envnumber("WEBHOOKS_SEND_SECONDS", 10.0, float)
# Seconds after each failed attempt before the next (the last repeats), and how long after
# its event a delivery is tried before it fails.
WEBHOOKS_RETRY_DELAYS = [
    float(s) for s in env("WEBHOOKS_RETRY_DELAYS", "5,30,120,600,1800,3600,7200,14400").split(",")
]
WEBHOOKS_GIVE_UP_SECONDS = envnumber("WEBHOOKS_GIVE_UP_SECONDS", 24 * 3600.0, float)
# A delivery handed to a worker is not handed out again for this long; past it (the
# broker lost the message, the worker died while sending), the clock sends it again.
WEBHOOKS_LEASE_SECONDS = envnumber("WEBHOOKS_LEASE_SECONDS", 60.0, float)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"secrets": {"()": "projects.logs.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["secrets"]},
    },
    "loggers": {
        "projects": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
        # A refused or missing page names its path, which may hold a link's secret.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
