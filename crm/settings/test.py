"""Tests: the same databases and Redis as configured, faster hashing, mail kept in memory."""

import os

from crm.settings.base import *  # noqa: F403
from crm.settings.base import CACHES, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = f"tp-test-{os.getpid()}"
# Transactional tests clean up as the owner: the runtime role may not TRUNCATE.
DATABASES["default"]["TEST"] = {"MIRROR": "owner"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Tests deliver webhooks to a receiver on 127.0.0.1 (the production guard has its own tests).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
WEBHOOKS_REQUIRE_HTTPS = False
