"""Settings shared by every environment; everything configurable comes from the environment."""

import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY", "dev-insecure-key-change-me")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crm",
    "crm.webhooks",
    "customers",
    "interactions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.middleware.TenantMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

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
                "crm.context_processors.tenancy",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL is the owner of the schema: migrations and role setup run as it.
# The application runs as APP_DATABASE_URL, a role that is not superuser, not the owner and has
# no BYPASSRLS; by default the same server and database as DATABASE_URL with the user
# APP_DB_USER (touchpoint_app) and password APP_DB_PASSWORD.
APP_DB_USER = env("APP_DB_USER", "touchpoint_app")
APP_DB_PASSWORD = env("APP_DB_PASSWORD", "")


def _app_database_url(owner_url: str) -> str:
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    credentials = quote(APP_DB_USER, safe="")
    if APP_DB_PASSWORD:
        credentials += ":" + quote(APP_DB_PASSWORD, safe="")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


OWNER_DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/touchpoint")
APP_DATABASE_URL = env("APP_DATABASE_URL", _app_database_url(OWNER_DATABASE_URL))
_db_options = {
    "CONN_MAX_AGE": int(env("DB_CONN_MAX_AGE", "60")),
    "CONN_HEALTH_CHECKS": True,
    # The tenant setting is sent with every statement (see crm.db); server-side cursors
    # would wrap it in DECLARE, so they are off (this also keeps PgBouncer possible).
    "DISABLE_SERVER_SIDE_CURSORS": True,
}
DATABASES = {
    "default": {**dj_database_url.parse(APP_DATABASE_URL), **_db_options},
    "owner": {**dj_database_url.parse(OWNER_DATABASE_URL), "CONN_MAX_AGE": 0},
}
DATABASE_ROUTERS = ["crm.db.OwnerMigratesRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ---------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "tp"),
    }
}
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL",
    REDIS_URL.replace("unix://", "redis+socket://", 1),
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Webhook attempts whose Celery message was lost (broker down at commit, a killed worker).
    "webhooks-requeue-overdue": {
        "task": "crm.webhooks.tasks.requeue_overdue_webhook_deliveries",
        "schedule": 60.0,
    },
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling: failures allowed per account and per client address in the window.
SIGNIN_MAX_FAILURES = int(env("SIGNIN_MAX_FAILURES", "5"))
SIGNIN_LOCKOUT_SECONDS = int(env("SIGNIN_LOCKOUT_SECONDS", "900"))
INVITATION_MAX_AGE_DAYS = int(env("INVITATION_MAX_AGE_DAYS", "7"))
# The address the app is reached at, for absolute links in e-mails sent by workers.
SITE_URL = env("SITE_URL", "http://localhost:8000")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Touchpoint <no-reply@touchpoint.localhost>")

# --- REST API (crm/api) ----------------------------------------------------------------------
# Requests per API key (or per signed-in user) per period: "<n>/<second|minute|hour|day>".
API_RATE_LIMIT = env("API_RATE_LIMIT", "1200/min")
IDEMPOTENCY_KEY_TTL_HOURS = int(env("IDEMPOTENCY_KEY_TTL_HOURS", "24"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.ApiKeyAuthentication",
        "crm.api.authentication.OrganizationSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.TenantCursorPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "crm.api.filters.TenantFilterBackend",
        "crm.api.filters.UpdatedSinceFilter",
        "crm.api.filters.TenantOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["crm.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.TenantAutoSchema",
    "EXCEPTION_HANDLER": "crm.api.errors.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Touchpoint API",
    "DESCRIPTION": (
        "The REST API of Touchpoint CRM. Send an API key as `Authorization: Bearer <key>`; "
        "browser sessions work too, naming the organization in an `X-Organization` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "DEFAULT_GENERATOR_CLASS": "crm.api.schema.TenantSchemaGenerator",
    # Customers' contact channels and interactions' channels are different choice sets.
    "ENUM_NAME_OVERRIDES": {
        "ContactChannelEnum": "customers.models.Channel",
        "InteractionChannelEnum": "interactions.models.Channel",
        "CustomerKindEnum": "customers.models.Customer.Kind",
        "InteractionKindEnum": "interactions.models.Kind",
        "CaseStatusEnum": "interactions.models.Case.Status",
    },
}

# --- Webhooks (crm/webhooks) -----------------------------------------------------------------
# Attempts per delivery; the wait after attempt n is BASE * FACTOR**(n-1) seconds (10, 30, 90...).
WEBHOOK_MAX_ATTEMPTS = int(env("WEBHOOK_MAX_ATTEMPTS", "8"))
WEBHOOK_RETRY_BASE_SECONDS = int(env("WEBHOOK_RETRY_BASE_SECONDS", "10"))
WEBHOOK_RETRY_FACTOR = int(env("WEBHOOK_RETRY_FACTOR", "3"))
WEBHOOK_TIMEOUT_SECONDS = float(env("WEBHOOK_TIMEOUT_SECONDS", "5"))
# Deliveries failing every attempt, in a row, that disable an endpoint.
WEBHOOK_DISABLE_AFTER = int(env("WEBHOOK_DISABLE_AFTER", "5"))
# Server-side request forgery guard: endpoints on private/loopback addresses and plain http are
# refused unless these say otherwise (dev and test settings allow them).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOKS_REQUIRE_HTTPS = env_bool("WEBHOOKS_REQUIRE_HTTPS", True)

# --- I18N, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
