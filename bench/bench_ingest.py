"""Bulk ingest benchmark: one client POSTing batches of interactions to a real HTTP server.

    .venv/bin/python bench/bench_ingest.py                      # 100,000 records, batches of 1,000
    .venv/bin/python bench/bench_ingest.py --records 200000 --concurrency 2

What it does, end to end:

1. (Re)creates a separate database, touchpoint_bench_ingest on the server DATABASE_URL names
   (--keep-database reuses it), migrated as the owner, the runtime role set up as in production.
2. Makes an organization, its owner, a read/write API key (through crm.api.services), the
   customers (--customers, through the bulk upsert service) and a catalog of products.
3. ANALYZEs (fresh statistics, as autovacuum keeps them) and starts gunicorn (crm.wsgi,
   production settings, --workers sync workers) on 127.0.0.1, with the API rate limit lifted
   (API_RATE_LIMIT): the default would cap the benchmark at 20 calls a second.
4. Encodes every batch up front (the client's JSON encoding is the integrator's cost, not the
   server's), sends a few warm-up batches, then sends the rest and times every call over one
   keep-alive connection per client thread (--concurrency, default 1: strictly one call at a
   time). Every answer is checked: each record must come back "created".
5. Replays the first --replay batches: every record must come back "unchanged" (idempotency).
6. Counts the rows in the database and prints one JSON document: records/s, batches, batch
   size, p50/p95/max call latency, the replay rate, and the machine's load average.

Records are a realistic mix: web visits, e-mail opens and clicks, calls, store visits and
purchases (--purchase-share, with 1-3 lines by SKU); customers matched by external id, or by
e-mail for --email-share of the records. Deterministic for a given --seed.

Besides wall-clock figures it reports the CPU time the client, the gunicorn workers and their
PostgreSQL backends spent per 1,000 records (from /proc), and what other processes used
meanwhile: on a shared machine that is the figure to compare between runs.
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import queue
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "touchpoint_bench_ingest"
SOURCE = "bench"
EVENT_KINDS = ["web_visit", "email_opened", "email_clicked", "call", "store_visit"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="timed records")
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--warmup-batches", type=int, default=3)
    parser.add_argument("--replay", type=int, default=10, help="batches sent again (unchanged)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--purchase-share", type=float, default=0.2)
    parser.add_argument("--email-share", type=float, default=0.2, help="matched by e-mail")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--keep-database", action="store_true", help="do not recreate it")
    return parser.parse_args()


def bench_database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/touchpoint")
    return urlunsplit(urlsplit(base)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- Setup (in this process, through the services) ------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Database, organization, key, customers and products; returns what the client needs."""
    import benchsetup

    benchsetup.setup()
    from django.conf import settings
    from django.db import connections

    from crm.api.services import api_key_create
    from crm.dbsetup import drop_database, setup_database
    from crm.models import ApiKey, Membership, Organization, User
    from crm.permissions import Role
    from crm.tenancy import tenant_context
    from customers.ingest import customers_upsert
    from interactions.models import Product

    if not args.keep_database:
        drop_database(str(settings.DATABASES["owner"]["NAME"]))
    setup_database(verbosity=0)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    organization = Organization.objects.create(name=f"Bench ingest {stamp}", slug=f"ingest-{stamp}")
    owner = User.objects.create_user(email=f"owner-{stamp}@bench.touchpoint.test", password=None)
    rng = random.Random(args.seed)
    with tenant_context(organization.pk, owner.pk):
        Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
        _, key = api_key_create(
            organization=organization, actor=owner, name="bench", scope=ApiKey.Scope.READ_WRITE
        )
        started = time.perf_counter()
        for start in range(0, args.customers, 5_000):
            records = [
                {
                    "external_id": f"BC-{number}",
                    "name": f"Customer {number}",
                    "emails": [f"customer{number}@bench.test"],
                }
                for number in range(start, min(start + 5_000, args.customers))
            ]
            customers_upsert(organization=organization, actor=owner, records=records)
        customer_seconds = time.perf_counter() - started
        Product.objects.bulk_create(
            Product(
                organization=organization,
                sku=f"SKU-{number}",
                name=f"Product {number}",
                price=f"{rng.randint(100, 20_000) / 100:.2f}",
            )
            for number in range(args.products)
        )
    with connections["owner"].cursor() as cursor:  # fresh statistics, as autovacuum would keep
        cursor.execute("ANALYZE")
    return {
        "organization": organization.slug,
        "key": key,
        "customer_setup_seconds": round(customer_seconds, 2),
    }


# --- The client ----------------------------------------------------------------------------------


def make_record(rng: random.Random, number: int, args: argparse.Namespace) -> dict[str, Any]:
    customer = rng.randrange(args.customers)
    occurred = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        seconds=rng.randrange(300 * 86_400)
    )
    record: dict[str, Any] = {
        "source": SOURCE,
        "external_id": f"ev-{args.seed}-{number}",
        "occurred_at": occurred.isoformat(),
    }
    if rng.random() < args.email_share:
        record["customer_email"] = f"Customer{customer}@bench.test"
    else:
        record["customer_external_id"] = f"BC-{customer}"
    if rng.random() < args.purchase_share:
        record["kind"] = "purchase"
        record["channel"] = rng.choice(["web", "store"])
        record["lines"] = [
            {"sku": f"SKU-{rng.randrange(args.products)}", "quantity": rng.randint(1, 3)}
            for _ in range(rng.randint(1, 3))
        ]
        record["metadata"] = {"order": f"O-{number}", "store": rng.randint(1, 40)}
    else:
        kind = rng.choice(EVENT_KINDS)
        record["kind"] = kind
        if kind == "web_visit":
            record["subject"] = f"/products/{rng.randrange(args.products)}"
            record["metadata"] = {"referrer": "search", "seconds": rng.randint(5, 600)}
        elif kind == "call":
            record["direction"] = "inbound"
            record["subject"] = "Question about an order"
    return record


def make_batches(args: argparse.Namespace, count: int, first: int) -> list[bytes]:
    rng = random.Random(args.seed * 1_000_003 + first)
    batches = []
    number = first
    for _ in range(count):
        records = [make_record(rng, number + offset, args) for offset in range(args.batch_size)]
        number += args.batch_size
        batches.append(json.dumps({"records": records}).encode())
    return batches


class Client:
    """One keep-alive HTTP connection sending bulk calls with the API key."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(self, body: bytes, expected: str) -> float:
        started = time.perf_counter()
        self.connection.request("POST", "/api/v1/interactions/bulk", body, self.headers)
        response = self.connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {content[:500]!r}")
        statuses = {result["status"] for result in json.loads(content)["results"]}
        if statuses != {expected}:
            raise RuntimeError(f"expected only {expected!r}, got {statuses}: {content[:500]!r}")
        return elapsed


def send_all(
    port: int, key: str, batches: list[bytes], expected: str, concurrency: int
) -> tuple[float, list[float]]:
    """Send every batch (concurrency threads, one connection each); (seconds, latencies)."""
    work: queue.Queue[bytes] = queue.Queue()
    for body in batches:
        work.put(body)
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        client = Client(port, key)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            try:
                elapsed = client.send(body, expected)
            except BaseException as error:  # noqa: BLE001 - reported after the threads join
                failures.append(error)
                return
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return seconds, latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- The server ----------------------------------------------------------------------------------


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.production",
        "SECRET_KEY": "bench-ingest-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_RATE_LIMIT": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            # Not listening yet: wait until gunicorn exits (checked above) or 0.2 s pass.
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=0.2)
    server.send_signal(signal.SIGTERM)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


# --- CPU accounting (Linux /proc): what each side spent, whatever else the machine was doing -----

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                pids.append(int(entry.name))
    return pids


def backend_pids(database: str) -> list[int]:
    """The application role's PostgreSQL backends on the bench database (the workers' ones)."""
    from django.conf import settings
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND usename = %s",
            [database, settings.DATABASES["default"]["USER"]],
        )
        pids = [row[0] for row in cursor.fetchall()]
    connections["owner"].close()
    return pids


def machine_busy_seconds() -> float:
    """CPU seconds all processes spent so far (every core), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


class CpuMeter:
    """CPU seconds of the client, the gunicorn workers, their backends and the whole machine.

    Backends are listed at every sample: a worker may open its connection during the run (its
    CPU before the first sample is then counted from zero, which is within the run).
    """

    def __init__(self, server: subprocess.Popen[bytes], database: str) -> None:
        self.workers = children(server.pid)
        self.database = database

    def sample(self) -> dict[str, Any]:
        client = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "client": client.ru_utime + client.ru_stime,
            "server": sum(cpu_seconds(pid) for pid in self.workers),
            "postgres": {pid: cpu_seconds(pid) for pid in backend_pids(self.database)},
            "machine": machine_busy_seconds(),
        }


def cpu_report(before: dict[str, Any], after: dict[str, Any], records: int) -> dict[str, Any]:
    spent = {name: after[name] - before[name] for name in ("client", "server", "machine")}
    spent["postgres"] = sum(
        seconds - before["postgres"].get(pid, 0.0) for pid, seconds in after["postgres"].items()
    )
    ours = spent["client"] + spent["server"] + spent["postgres"]
    per_thousand = {
        name: round(spent[name] * 1000 * 1000 / records, 1)
        for name in ("client", "server", "postgres")
    }
    return {
        "cpu_ms_per_1000_records": per_thousand,
        "cpu_seconds": {name: round(value, 2) for name, value in spent.items()},
        "other_processes_cpu_seconds": round(spent["machine"] - ours, 2),
    }


def count_rows(slug: str) -> dict[str, int]:
    from crm.models import Organization
    from crm.tenancy import tenant_context
    from interactions.models import Interaction, PurchaseLine

    organization = Organization.objects.get(slug=slug)
    with tenant_context(organization.pk):
        return {
            "interactions": Interaction.objects.filter(source=SOURCE).count(),
            "purchase_lines": PurchaseLine.objects.count(),
        }


def main() -> None:
    args = parse_args()
    os.environ["DATABASE_URL"] = bench_database_url(args.database)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(f"preparing {args.database} ...", file=sys.stderr, flush=True)
    setup = prepare(args)
    timed_batches = max(1, args.records // args.batch_size)
    print("encoding batches ...", file=sys.stderr, flush=True)
    warmup = make_batches(args, args.warmup_batches, 0)
    batches = make_batches(args, timed_batches, args.warmup_batches * args.batch_size)
    port = args.port or free_port()
    server = start_server(args, port)
    try:
        load_before = load_average()
        if warmup:
            send_all(port, setup["key"], warmup, "created", args.concurrency)
        meter = CpuMeter(server, args.database)
        print(f"sending {timed_batches} batches ...", file=sys.stderr, flush=True)
        cpu_before = meter.sample()
        seconds, latencies = send_all(port, setup["key"], batches, "created", args.concurrency)
        cpu_after = meter.sample()
        load_after = load_average()
        replayed = batches[: args.replay]
        replay_seconds, replay_latencies = (
            send_all(port, setup["key"], replayed, "unchanged", args.concurrency)
            if replayed
            else (0.0, [])
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    rows = count_rows(setup["organization"])
    total = timed_batches * args.batch_size
    expected_rows = total + len(warmup) * args.batch_size
    if rows["interactions"] != expected_rows:
        raise RuntimeError(f"expected {expected_rows} interactions, found {rows['interactions']}")
    cpu = cpu_report(cpu_before, cpu_after, total)
    cpu_per_record = sum(cpu["cpu_ms_per_1000_records"].values()) / 1000 / 1000
    report = {
        "benchmark": "bulk_ingest_http",
        "records_per_second": round(total / seconds),
        "total_records": total,
        "batches": timed_batches,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 2),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "replay_unchanged": {
            "batches": len(replayed),
            "records_per_second": round(len(replayed) * args.batch_size / replay_seconds)
            if replayed
            else None,
            "latency_ms_p50": round(statistics.median(replay_latencies) * 1000, 1)
            if replay_latencies
            else None,
        },
        "client": {"concurrency": args.concurrency, "connections": "keep-alive"},
        "server": {"gunicorn_sync_workers": args.workers, "settings": "crm.settings.production"},
        "mix": {
            "purchase_share": args.purchase_share,
            "email_share": args.email_share,
            "customers": args.customers,
        },
        "rows_in_database": rows,
        "customer_upsert_setup": {
            "customers": args.customers,
            "seconds": setup["customer_setup_seconds"],
        },
        "cpu": {
            **cpu,
            # What the same work would allow with the machine to itself: one call at a time is
            # bound by the sum of the three; both cores busy by the CPU it costs in all.
            "estimate_idle_machine_records_per_second": {
                "one_call_at_a_time": round(1 / cpu_per_record),
                "all_cores": round((os.cpu_count() or 1) / cpu_per_record),
            },
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
