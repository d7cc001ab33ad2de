"""Start Django for the benchmark scripts, so they run from anywhere without make or manage.py.

The scripts run as `python bench/<script>.py`; Python then puts bench/ (not the repository root)
on sys.path, so the root is added here before the settings are imported. The benchmarks build
and read big tenants: they refuse any database whose name lacks "bench", so the development and
test databases are never touched, and they use their own cache key prefix in Redis.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS = "crm.settings.dev"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/touchpoint_bench"


def setup() -> None:
    """Make the project importable, run django.setup() and check the database is a bench one."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CACHE_KEY_PREFIX", "tp-bench")
    import django
    from django.conf import settings

    django.setup()
    name = str(settings.DATABASES["owner"]["NAME"])
    if "bench" not in name:
        raise SystemExit(
            f"DATABASE_URL names the database {name!r}; the benchmarks only run on a database "
            f"whose name contains 'bench', e.g. {DEFAULT_DATABASE_URL}"
        )
