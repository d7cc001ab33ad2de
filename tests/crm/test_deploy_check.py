"""Production settings pass Django's deployment checklist (`check --deploy`) with no warnings."""

import os
import secrets
import subprocess
import sys

from django.conf import settings

# Variables of this test process or a developer's shell that would weaken the checked setup:
# security settings production reads with secure defaults, and the browser tests' async flag.
NOT_PASSED_ON = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DJANGO_ALLOW_ASYNC_UNSAFE")


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings.production",
        SECRET_KEY=secrets.token_urlsafe(45),
        ALLOWED_HOSTS="crm.example.com",
    )
    assert len(env["SECRET_KEY"]) == 60

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output
    assert "System check identified no issues" in result.stdout
