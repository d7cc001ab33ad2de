"""Server time of the 360-degree customer view and of customer search, on a generated tenant.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/touchpoint_bench \\
        .venv/bin/python bench/bench_360.py [--requests 200] [--warmup 20]

Needs a tenant built by bench/generate_tenant.py. Requests go through the whole Django stack
in-process (django.test.Client, signed in as a sales member): middleware, tenant resolution,
permission checks, views, templates and every SQL statement as the runtime role (the `default`
alias, so row-level security applies) against the real database. There is no network and no
web server, so the time is the server's: time.perf_counter() around each request, after
warm-up requests. DEBUG is off, as in production. Queries per request are counted on separate,
untimed requests.

Prints one JSON document: the data size, median / p95 / max per request kind, the goals (p95 at
most 50 ms for the view's first page, 100 ms for search) and whether each is met, the machine's
load average, and the slowest SQL statements of each request kind.
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import benchsetup

benchsetup.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from generate_tenant import DEFAULT_SLUG, HEAVY_EXTERNAL_ID  # noqa: E402

from crm.models import Membership, Organization  # noqa: E402
from crm.permissions import Role  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.selectors import customer_list  # noqa: E402
from interactions.models import Interaction  # noqa: E402
from interactions.selectors import (  # noqa: E402
    _return_norm_key,
    organization_return_norm,
    timeline,
)

settings.DEBUG = False  # as in production: no query log, no debug pages
GOALS = {"view": 50, "search": 100}  # p95, milliseconds
HTMX = {"HTTP_HX_REQUEST": "true"}
OLDER_PAGE_AFTER = 2500  # the "older entries" page starts this far back in the timeline


@dataclass
class Target:
    """One kind of request: its URLs (cycled through), headers and goal."""

    name: str
    urls: list[str]
    goal: str
    headers: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)  # per URL: what kind of search term


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(times: Sequence[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "n": len(times),
    }


def timed_get(client: Client, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(url, **headers)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}, not 200.")
    return elapsed


def measure(client: Client, target: Target, *, requests: int, warmup: int) -> dict[str, Any]:
    """Warm up, time `requests` requests, then count the queries of one request per URL."""
    urls = target.urls
    for number in range(warmup):
        timed_get(client, urls[number % len(urls)], target.headers)
    times, by_label = [], {}
    for number in range(requests):
        elapsed = timed_get(client, urls[number % len(urls)], target.headers)
        times.append(elapsed)
        if target.labels:
            by_label.setdefault(target.labels[number % len(urls)], []).append(elapsed)
    queries, slowest = [], {}
    for url in urls[:20]:
        with CaptureQueriesContext(connection) as captured:
            client.get(url, **target.headers)  # type: ignore[arg-type]
        queries.append(len(captured.captured_queries))
        for query in captured.captured_queries:
            sql = query["sql"].split("; ", 1)[-1]  # without crm.db's set_config prefix
            slowest[sql] = max(slowest.get(sql, 0.0), float(query["time"]) * 1000)
    result = {**summary(times), "queries": max(queries), "goal_p95_ms": GOALS[target.goal]}
    result["met"] = result["p95_ms"] <= GOALS[target.goal]
    if by_label:
        result["by_term"] = {label: summary(values) for label, values in by_label.items()}
    result["slowest_sql"] = [
        {"ms": round(ms, 1), "sql": sql[:300]}
        for sql, ms in sorted(slowest.items(), key=lambda item: -item[1])[:2]
    ]
    return result


def search_terms(organization: Organization, count: int, seed: int) -> list[tuple[str, str]]:
    """What staff type into the search box, drawn from real customers: (kind, text).

    surname: 3 to 5 letters of a surname; full_name; email: a whole address; email_start: the
    first 6 characters of an address; phone: a whole number as people write it (+44 7000
    170725); phone_end: its last 4 digits.
    """
    rng = random.Random(seed)
    candidates = (
        Customer.objects.filter(organization=organization, kind=Customer.Kind.PERSON)
        .exclude(emails=[])
        .exclude(phones=[])
        .exclude(external_id=HEAVY_EXTERNAL_ID)
    )
    ids = list(candidates.order_by("id").values_list("id", flat=True))
    chosen = rng.sample(ids, min(count, len(ids)))
    found = candidates.filter(id__in=chosen).in_bulk()
    people = [(found[pk].name, found[pk].emails, found[pk].phones) for pk in chosen]
    kinds = ["surname", "full_name", "email", "email_start", "phone", "phone_end"]
    terms = []
    for number, (name, emails, phones) in enumerate(people):
        kind = kinds[number % len(kinds)]
        text = {
            "surname": name.split()[-1][: rng.randint(3, 5)],
            "full_name": name,
            "email": emails[0],
            "email_start": emails[0][:6],
            "phone": f"{phones[0][:3]} {phones[0][3:7]} {phones[0][7:]}",
            "phone_end": phones[0][-4:],
        }[kind]
        terms.append((kind, text))
    return terms


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", default=DEFAULT_SLUG, help="the generated organization")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per kind first")
    parser.add_argument("--terms", type=int, default=36, help="distinct search terms")
    parser.add_argument("--seed", type=int, default=7, help="picks the search terms")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    organization = Organization.objects.filter(slug=args.slug).first()
    if organization is None:
        raise SystemExit(
            f"No organization {args.slug!r}: build it first with bench/generate_tenant.py."
        )
    with tenant_context(organization.pk):
        heavy = Customer.objects.get(organization=organization, external_id=HEAVY_EXTERNAL_ID)
        member = Membership.objects.filter(
            organization=organization, role=Role.SALES, is_active=True
        ).select_related("user")[0]
        data = {
            "customers": Customer.objects.filter(organization=organization).count(),
            "interactions": Interaction.objects.filter(organization=organization).count(),
            "heavy_customer_interactions": Interaction.objects.filter(
                organization=organization, customer=heavy
            ).count(),
        }
        older = timeline(organization=organization, customer=heavy, limit=OLDER_PAGE_AFTER)
        terms = search_terms(organization, args.terms, args.seed)
        matches = {
            text: customer_list(organization=organization, filters={"q": text}).count()
            for _, text in terms
        }
        cache.delete(_return_norm_key(organization))
        started = time.perf_counter()
        organization_return_norm(organization=organization)
        norm_cold_ms = round((time.perf_counter() - started) * 1000, 1)

    slug, pk = organization.slug, heavy.pk
    detail = reverse("customers:detail", kwargs={"org_slug": slug, "pk": pk})
    timeline_url = reverse("interactions:timeline", kwargs={"org_slug": slug, "customer_pk": pk})
    key_facts = reverse("interactions:key_facts", kwargs={"org_slug": slug, "customer_pk": pk})
    search = [
        reverse("customers:list", kwargs={"org_slug": slug}) + "?" + urlencode({"q": text})
        for _, text in terms
    ]
    labels = [kind for kind, _ in terms]
    targets = [
        Target("customer_360_page", [detail], "view"),
        Target("timeline_first_page_partial", [timeline_url], "view", HTMX),
        Target("key_facts_partial", [key_facts], "view", HTMX),
        Target("search_results_partial", search, "search", HTMX, labels),
        Target("search_page", search, "search", {}, labels),
    ]
    if older.next_cursor:
        older_url = f"{timeline_url}?{urlencode({'cursor': older.next_cursor})}"
        targets.insert(2, Target("timeline_older_page_partial", [older_url], "view", HTMX))

    load_at_start = [round(value, 2) for value in os.getloadavg()]
    client = Client()
    client.force_login(member.user)
    results = {}
    for target in targets:
        print(f"{target.name}: {args.warmup} + {args.requests} requests", file=sys.stderr)
        results[target.name] = measure(client, target, requests=args.requests, warmup=args.warmup)
        print(f"  {json.dumps(results[target.name])[:200]}", file=sys.stderr)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "data": data,
        "results": results,
        "all_goals_met": all(result["met"] for result in results.values()),
        "load_average_1_5_15": {
            "start": load_at_start,
            "end": [round(value, 2) for value in os.getloadavg()],
        },
        "cpus": os.cpu_count(),
        "setup": {
            "database": settings.DATABASES["default"]["NAME"],
            "slug": slug,
            "heavy_customer_id": pk,
            "signed_in_as": f"{member.user.email} ({member.role})",
            "requests": args.requests,
            "warmup": args.warmup,
            "urls": {target.name: target.urls[0] for target in targets},
        },
        "search_terms": [
            {"kind": kind, "q": text, "matches": matches[text]} for kind, text in terms
        ],
        "return_norm_cache_miss_ms": norm_cold_ms,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
