"""Development: debug pages and e-mails printed on the console."""

from crm.settings.base import *  # noqa: F403
from crm.settings.base import env

DEBUG = True
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Serve static files straight from static/ while developing (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Local receivers (http://127.0.0.1:...) are fine for webhooks while developing.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
WEBHOOKS_REQUIRE_HTTPS = False
