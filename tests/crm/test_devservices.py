"""The launcher behind `make run` / `make test` (crm.devservices)."""

import os
import subprocess
import sys
from pathlib import Path

import dj_database_url
import pytest
from django.conf import settings

from crm.devservices import main, url_host
from crm.settings.base import _app_database_url


def test_socket_directory_survives_the_database_url_round_trip() -> None:
    socket_dir = Path("/home/Ada Lovelace/touchpoint/var/postgres")
    owner_url = f"postgres://postgres@{url_host(socket_dir)}:5432/touchpoint"

    owner = dj_database_url.parse(owner_url)
    app = dj_database_url.parse(_app_database_url(owner_url))

    assert (owner["HOST"], owner["PORT"], owner["USER"]) == (str(socket_dir), 5432, "postgres")
    assert (app["HOST"], app["USER"], app["NAME"]) == (
        str(socket_dir),
        "touchpoint_app",
        "touchpoint",
    )


def test_unknown_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert main([]) == 2
    assert capsys.readouterr().err.count("usage: python -m crm.devservices run | test") == 2


def test_make_test_exit_code_is_pytests_and_no_tests_collected_fails() -> None:
    # Collect-only touches no database, so this nested run cannot disturb this one's.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings.dev"}
    result = subprocess.run(
        [sys.executable, "-m", "crm.devservices", "test", "--", "--co", "-k", "no_such_test_zz"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 5, result.stdout + result.stderr
    # The suite's own settings, even when the shell names others.
    assert "settings: crm.settings.test (from ini)" in result.stdout
