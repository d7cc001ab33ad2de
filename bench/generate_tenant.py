"""Build a benchmark tenant of any size, quickly: customers, consent, interactions on every
channel with purchase lines, service cases and follow-up tasks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/touchpoint_bench \\
        .venv/bin/python bench/generate_tenant.py --customers 100000 --interactions 1000000

Creates and migrates the database when needed (crm.dbsetup, as `manage.py setup_database`) and
only runs on a database whose name contains "bench" (see benchsetup). Rows are written as the
application's runtime role inside the tenant, so row-level security vets every one: PostgreSQL
refuses COPY FROM into a table with row-level security, so each batch is COPYed into a temporary
table and moved with one INSERT ... SELECT, which the tenant policy checks. Ids are reserved
from the tables' sequences up front (on the owner connection), so rows can point to each other
without reading anything back. The tables are VACUUM ANALYZEd at the end, as autovacuum would.

The data: 1% companies, people with common British names (names, addresses and texts come from
the demo data, customers/demo.py and interactions/demo.py), e-mails, phones, tags and consent;
interactions spread over two years in time order (as a real tenant's rows lie on disk), shared
out with a heavy tail (most customers have a few, some dozens, a tenth none); purchases with
their lines, returns (~15% of purchases), complaints that open cases, calls and complaints that
leave tasks. One customer (external id BENCH-HEAVY) has exactly --heavy-interactions of them,
for the 360-degree view benchmark (bench/bench_360.py). Deterministic for a --seed and
--end-date (database ids aside). Progress goes to stderr; stdout gets one JSON document.
"""

import argparse
import csv
import datetime
import io
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import benchsetup

benchsetup.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from crm import dbsetup  # noqa: E402
from crm.db import OWNER_ALIAS, apply_tenant_settings  # noqa: E402
from crm.models import Membership, Organization, User  # noqa: E402
from crm.permissions import Role  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from customers import demo as customer_demo  # noqa: E402
from customers.models import ConsentEvent, Customer  # noqa: E402
from customers.services import build_search_document  # noqa: E402
from interactions import demo as interaction_demo  # noqa: E402
from interactions.models import (  # noqa: E402
    DEFAULT_CASE_DUE_HOURS,
    Case,
    CaseCounter,
    Channel,
    Direction,
    Interaction,
    Kind,
    PurchaseLine,
    Task,
)

DEFAULT_SLUG = "bench"
HEAVY_EXTERNAL_ID = "BENCH-HEAVY"
HISTORY_DAYS = 730
CHUNK = 100_000  # interactions per transaction
NULL = "\\N"
MEMBER_PASSWORD = "touchpoint-bench"
MEMBERS = {
    Role.OWNER: 1, Role.ADMIN: 1, Role.MANAGER: 2, Role.SALES: 12, Role.SERVICE: 8, Role.VIEWER: 1
}  # fmt: skip
CAMPAIGNS = ["spring-sale", "summer-trek", "autumn-layers", "winter-gear", "loyalty-week"]
TAGS = [("newsletter", 0.4), ("vip", 0.03), ("outdoor-club", 0.1), ("hiker", 0.15)]
IN, OUT, NONE = Direction.INBOUND, Direction.OUTBOUND, Direction.NONE
# What happened: share of all interactions (per cent), the channels and the directions it has.
KINDS: list[tuple[str, float, list[str], list[str]]] = [
    (Kind.EMAIL_SENT, 25, [Channel.EMAIL], [OUT]),
    (Kind.EMAIL_OPENED, 12, [Channel.EMAIL], [IN]),
    (Kind.EMAIL_CLICKED, 4, [Channel.EMAIL], [IN]),
    (Kind.WEB_VISIT, 20, [Channel.WEB], [IN]),
    (Kind.PURCHASE, 10, [Channel.WEB, Channel.STORE, Channel.STORE, Channel.MAIL], [IN]),
    (Kind.RETURN, 1.5, [Channel.STORE, Channel.WEB, Channel.MAIL], [IN]),
    (Kind.STORE_VISIT, 6, [Channel.STORE], [IN]),
    (Kind.CALL, 6, [Channel.PHONE], [IN, OUT]),
    (Kind.CAMPAIGN_EXPOSURE, 6, [Channel.EMAIL, Channel.SMS, Channel.SOCIAL, Channel.MAIL], [OUT]),
    (Kind.CAMPAIGN_RESPONSE, 1.5, [Channel.EMAIL, Channel.WEB, Channel.SMS], [IN]),
    (Kind.SURVEY_RESPONSE, 2, [Channel.EMAIL, Channel.WEB], [IN]),
    (Kind.COMPLAINT, 1, [Channel.PHONE, Channel.EMAIL, Channel.CHAT], [IN]),
    (Kind.NOTE, 4, [Channel.OTHER], [NONE]),
    (Kind.MEETING, 0.5, [Channel.IN_PERSON], [NONE]),
]
EMAIL_KINDS = {
    Kind.EMAIL_SENT, Kind.EMAIL_OPENED, Kind.EMAIL_CLICKED, Kind.CAMPAIGN_EXPOSURE,
    Kind.CAMPAIGN_RESPONSE,
}  # fmt: skip
SOURCE_KINDS = {Kind.PURCHASE, Kind.RETURN}
STAFF_SUBJECTS = {
    Kind.CALL: interaction_demo.CALL_SUBJECTS,
    Kind.NOTE: ["Note"],
    Kind.MEETING: interaction_demo.MEETING_SUBJECTS,
}
SOURCE_OF_CHANNEL = {Channel.WEB: "webshop", Channel.STORE: "pos", Channel.MAIL: "catalog"}

CUSTOMER_COLUMNS = [
    "id", "organization_id", "kind", "name", "company_id", "emails", "phones", "street", "city",
    "postal_code", "region", "country", "lifecycle_stage", "owner_id", "tags", "source",
    "preferred_channel", "custom_fields", "external_id", "search_document", "created_at",
    "updated_at",
]  # fmt: skip
CONSENT_COLUMNS = [
    "organization_id", "customer_id", "channel", "granted", "method", "note", "occurred_at",
    "recorded_by_id",
]  # fmt: skip
INTERACTION_COLUMNS = [
    "id", "organization_id", "customer_id", "channel", "kind", "direction", "occurred_at",
    "user_id", "source", "external_id", "subject", "body", "amount", "currency", "metadata",
    "case_id", "created_at",
]  # fmt: skip
LINE_COLUMNS = ["organization_id", "interaction_id", "product_id", "quantity", "unit_price"]
CASE_COLUMNS = [
    "id", "organization_id", "number", "customer_id", "subject", "description", "status",
    "priority", "assignee_id", "opened_by_id", "due_at", "created_at", "updated_at",
    "resolved_at",
]  # fmt: skip
TASK_COLUMNS = [
    "organization_id", "title", "customer_id", "assignee_id", "due_date", "done_at",
    "interaction_id", "created_by_id", "created_at",
]  # fmt: skip


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pg_array(items: Sequence[str]) -> str:
    """An array literal; generated values hold no quotes, commas or backslashes."""
    return "{" + ",".join(f'"{item}"' for item in items) + "}"


def reserve_ids(model: type[Any], count: int) -> int:
    """Take `count` consecutive ids from the table's sequence; returns the first.

    setval needs the sequence's owner, so this runs on the owner connection; nothing else
    writes to the bench database meanwhile.
    """
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + max(count, 1) - 1])
    return int(first)


def copy_rows(model: type[Any], columns: Sequence[str], rows: list[list[Any]]) -> None:
    """COPY rows into a temporary table, then INSERT ... SELECT them into the model's table.

    Runs in the caller's transaction, whose tenant apply_tenant_settings() has set: the INSERT
    is checked by the row-level security policy like any write of the application.
    """
    if not rows:
        return
    table, names = model._meta.db_table, ", ".join(columns)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [NULL if value is None else value for value in row] for row in rows
    )
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS stage_{table} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table} WITH NO DATA"
        )
        cursor.cursor.copy_expert(
            f"COPY stage_{table} ({names}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", buffer
        )
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM stage_{table}")
        cursor.execute(f"TRUNCATE stage_{table}")


def write(batches: list[tuple[type[Any], Sequence[str], list[list[Any]]]]) -> None:
    """Write several tables' rows in one transaction (deferred foreign keys checked at commit)."""
    with transaction.atomic():
        apply_tenant_settings()
        for model, columns, rows in batches:
            copy_rows(model, columns, rows)


def create_members(organization: Organization) -> dict[str, list[int]]:
    """Staff by role (users are global, so existing ones are reused); returns user ids."""
    password = make_password(MEMBER_PASSWORD)  # hashed once: hashing is slow on purpose
    members: dict[str, list[int]] = {}
    for role, count in MEMBERS.items():
        for number in range(1, count + 1):
            user, _ = User.objects.get_or_create(
                email=f"{role}{number}@{organization.slug}.bench.touchpoint.test",
                defaults={"full_name": f"Bench {role.label} {number}", "password": password},
            )
            Membership.objects.create(organization=organization, user=user, role=role)
            members.setdefault(role, []).append(user.pk)
    return members


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, result = 0.0, []
    for weight in weights:
        total += weight
        result.append(total)
    return result


class Tenant:
    """The generated tenant: its settings, staff, customers and the running counters."""

    def __init__(self, args: argparse.Namespace, organization: Organization) -> None:
        self.rng = random.Random(args.seed)
        self.organization_id = organization.pk
        self.currency = organization.currency
        self.end = datetime.datetime.combine(args.end_date, datetime.time.min, datetime.UTC)
        self.start = self.end - datetime.timedelta(days=HISTORY_DAYS)
        self.members = create_members(organization)
        self.staff = self.members[Role.SALES] + self.members[Role.SERVICE]
        self.service = self.members[Role.SERVICE]
        self.products = interaction_demo._catalog(organization)
        self.customer_ids: list[int] = []
        self.weights: list[float] = []  # cumulative: how often each customer appears
        self.heavy_id = 0
        self.case_number = 0
        self.counts: Counter[str] = Counter()

    def at(self, days_back_min: float, days_back_max: float) -> datetime.datetime:
        return self.end - datetime.timedelta(days=self.rng.uniform(days_back_min, days_back_max))

    # --- customers ----------------------------------------------------------------------------

    def customers(self, count: int) -> tuple[list[list[Any]], list[list[Any]]]:
        """Customer rows (companies first, then people; the first person is the heavy one) and
        consent event rows."""
        rng, org = self.rng, self.organization_id
        first_id = reserve_ids(Customer, count)
        self.customer_ids = list(range(first_id, first_id + count))
        companies = max(1, count // 100)
        heavy = companies
        self.heavy_id = first_id + heavy
        firsts = customer_demo.FIRST_NAMES
        lasts = customer_demo.LAST_NAMES
        first_cum = _cumulative([1 / (rank + 1) ** 0.7 for rank in range(len(firsts))])
        last_cum = _cumulative([1 / (rank + 1) ** 0.9 for rank in range(len(lasts))])
        stages, stage_weights = zip(*customer_demo.STAGES, strict=True)
        sources, source_weights = zip(*customer_demo.SOURCES, strict=True)
        preferred, preferred_weights = zip(*customer_demo.CHANNELS, strict=True)
        owners = self.members[Role.SALES]
        rows, consents, weights, domains = [], [], [], []
        for index, customer_id in enumerate(self.customer_ids):
            address = customer_demo._address(rng)
            company_id, tags, external_id = None, [], ""
            phones = [f"+447{(index * 7919 + 12_345) % 10**9:09d}"]  # unique up to 10**9
            if index < companies:
                word = rng.choice(lasts)
                name = f"{word} {rng.choice(['Outdoor', 'Trading', 'Guiding', 'Events'])} Ltd"
                domains.append(f"{customer_demo._ascii(word)}{index}.example")
                emails, kind, weight = [f"orders@{domains[-1]}"], Customer.Kind.COMPANY, 1.0
            else:
                first = rng.choices(firsts, cum_weights=first_cum)[0]
                last = rng.choices(lasts, cum_weights=last_cum)[0]
                name, kind = f"{first} {last}", Customer.Kind.PERSON
                local = f"{customer_demo._ascii(first)}.{customer_demo._ascii(last)}"
                number = rng.randint(1, 9999) if rng.random() < 0.7 else ""
                emails = [f"{local}{number}@{rng.choice(customer_demo.PERSONAL_DOMAINS)}"]
                if rng.random() < 0.08:
                    company = rng.randrange(companies)
                    company_id = first_id + company
                    emails.insert(0, f"{local}@{domains[company]}")
                if rng.random() < 0.1:
                    emails = []
                if rng.random() < 0.15:
                    phones = []
                tags = [tag for tag, share in TAGS if rng.random() < share]
                external_id = f"SHOP-{index:08d}" if rng.random() < 0.6 else ""
                weight = 0.0 if rng.random() < 0.1 else min(rng.paretovariate(1.2), 60.0)
            if index == heavy:
                name, external_id, weight = "Morgan Ashdown", HEAVY_EXTERNAL_ID, 0.0
                emails = ["morgan.ashdown@example.com"]
                company_id, tags = None, ["vip", "newsletter"]
            weights.append(weight)
            created = self.at(HISTORY_DAYS, HISTORY_DAYS + 400)
            rows.append([
                customer_id, org, kind, name, company_id, pg_array(emails), pg_array(phones),
                address["street"], address["city"], address["postal_code"], address["region"],
                address["country"], rng.choices(stages, weights=stage_weights)[0],
                rng.choice(owners) if rng.random() < 0.7 else None, pg_array(tags),
                rng.choices(sources, weights=source_weights)[0],
                rng.choices(preferred, weights=preferred_weights)[0], "{}", external_id,
                build_search_document(name=name, emails=emails, phones=phones, tags=tags),
                created, self.at(0, HISTORY_DAYS),
            ])  # fmt: skip
            events = 4 if index == heavy else (rng.randint(1, 2) if rng.random() < 0.3 else 0)
            for _ in range(events):
                consents.append([
                    org, customer_id, rng.choice(["email", "email", "sms", "phone", "mail"]),
                    rng.random() < 0.8, rng.choice(ConsentEvent.Method.values), "",
                    self.at(0, HISTORY_DAYS), rng.choice([*self.staff, None]),
                ])  # fmt: skip
        self.weights = _cumulative(weights)
        return rows, consents

    # --- interactions -------------------------------------------------------------------------

    def interactions(self, total: int, heavy: int) -> None:
        """Write `total` interactions in time order, CHUNK per transaction, `heavy` of them the
        heavy customer's, with their purchase lines, cases and tasks."""
        rng, span = self.rng, HISTORY_DAYS * 86_400.0
        times = sorted(rng.uniform(0, span) for _ in range(total))
        heavy_positions = set(rng.sample(range(total), heavy))
        kind_cum = _cumulative([share for _, share, _, _ in KINDS])
        first_id = reserve_ids(Interaction, total)
        for low in range(0, total, CHUNK):
            high = min(total, low + CHUNK)
            started = time.perf_counter()
            kinds = rng.choices(KINDS, cum_weights=kind_cum, k=high - low)
            people = rng.choices(self.customer_ids, cum_weights=self.weights, k=high - low)
            complaints = sum(1 for kind in kinds if kind[0] == Kind.COMPLAINT)
            case_id = reserve_ids(Case, complaints)
            rows, lines, cases, tasks = [], [], [], []  # type: ignore[var-annotated]
            for offset, (kind, _, channels, directions) in enumerate(kinds):
                position = low + offset
                customer = self.heavy_id if position in heavy_positions else people[offset]
                at = self.start + datetime.timedelta(seconds=times[position])
                row = self.interaction(first_id + position, kind, customer, at, lines)
                row[3], row[5] = rng.choice(channels), rng.choice(directions)
                if kind in SOURCE_KINDS:
                    row[8] = SOURCE_OF_CHANNEL[row[3]]
                if kind == Kind.COMPLAINT:
                    row[15] = case_id
                    cases.append(self.case(case_id, customer, at, row[10], row[11]))
                    case_id += 1
                if kind in (Kind.CALL, Kind.COMPLAINT) and rng.random() < 0.25:
                    tasks.append(self.task(first_id + position, customer, at))
                rows.append(row)
            write([
                (Case, CASE_COLUMNS, cases), (Interaction, INTERACTION_COLUMNS, rows),
                (PurchaseLine, LINE_COLUMNS, lines), (Task, TASK_COLUMNS, tasks),
            ])  # fmt: skip
            self.counts.update(interactions=len(rows), purchase_lines=len(lines))
            self.counts.update(cases=len(cases), tasks=len(tasks))
            _log(f"interactions {high:,}/{total:,} ({time.perf_counter() - started:.1f}s)")

    def interaction(
        self, pk: int, kind: str, customer: int, at: datetime.datetime, lines: list[list[Any]]
    ) -> list[Any]:
        """One interaction row (the caller sets its channel, direction and a purchase's or a
        return's source); a purchase's or a return's lines go to `lines`."""
        rng, org = self.rng, self.organization_id
        subject = body = source = external_id = currency = ""
        metadata, user, amount = "{}", None, None
        if kind in (Kind.PURCHASE, Kind.RETURN):
            picks = rng.sample(self.products, rng.choice((1, 1, 1, 2, 2, 3)))
            if kind == Kind.RETURN:
                picks = picks[:1]
                subject = f"Returned {picks[0].name}"
                body = rng.choice(interaction_demo.RETURN_REASONS)
            external_id = f"B{pk}"
            amount, currency = Decimal("0.00"), self.currency
            for product in picks:
                quantity = 1 if rng.random() < 0.85 else 2
                lines.append([org, pk, product.pk, quantity, product.price])
                amount += product.price * quantity
            subject = subject or f"Order {external_id}"
        elif kind in EMAIL_KINDS:
            campaign = rng.choice(CAMPAIGNS)
            subject = f"{campaign.replace('-', ' ').capitalize()} newsletter"
            source, metadata = "esp", f'{{"campaign": "{campaign}"}}'
        elif kind == Kind.WEB_VISIT:
            subject = f"Browsed {rng.choice(list(interaction_demo.CATALOG))}"
            source, metadata = "webshop", f'{{"pages": {rng.randint(1, 12)}}}'
        elif kind == Kind.STORE_VISIT:
            subject = f"Visited the {rng.choice(customer_demo.CITIES)[0]} store"
        elif kind == Kind.SURVEY_RESPONSE:
            score = rng.choices(range(1, 6), weights=(3, 5, 15, 40, 37))[0]
            subject, metadata = f"Rated us {score}/5", f'{{"score": {score}}}'
        elif kind == Kind.COMPLAINT:
            subject, body = rng.choice(interaction_demo.COMPLAINTS)
            user = rng.choice(self.service)
        else:  # call, note, meeting: logged by staff
            subject = rng.choice(STAFF_SUBJECTS[kind])
            body = rng.choice(interaction_demo.NOTE_BODIES) if kind == Kind.NOTE else ""
            user = rng.choice(self.staff)
        return [
            pk, org, customer, "", kind, "", at, user, source, external_id, subject, body,
            amount, currency, metadata, None, at,
        ]  # fmt: skip

    def case(
        self, pk: int, customer: int, at: datetime.datetime, subject: str, description: str
    ) -> list[Any]:
        """The case a complaint opens: old ones are mostly resolved, recent ones still open."""
        rng = self.rng
        self.case_number += 1
        recent = (self.end - at).days < 30
        statuses = Case.Status.values  # new, open, pending, resolved, closed
        weights = (20, 40, 15, 20, 5) if recent else (0, 2, 1, 37, 60)
        status = rng.choices(statuses, weights=weights)[0]
        priority = rng.choices(Case.Priority.values, weights=(15, 60, 20, 5))[0]
        due = at + datetime.timedelta(hours=DEFAULT_CASE_DUE_HOURS[priority])
        resolved = None
        if status in (Case.Status.RESOLVED, Case.Status.CLOSED):
            resolved = min(self.end, at + datetime.timedelta(hours=rng.uniform(2, 240)))
        return [
            pk, self.organization_id, self.case_number, customer, subject, description, status,
            priority, rng.choice(self.service) if rng.random() < 0.9 else None,
            rng.choice(self.service), due, at, resolved or at, resolved,
        ]  # fmt: skip

    def task(self, interaction: int, customer: int, at: datetime.datetime) -> list[Any]:
        """A follow-up left by a call or complaint: due in three days, done unless recent."""
        rng = self.rng
        due = (at + datetime.timedelta(days=3)).date()
        done = None
        if (self.end - at).days > 10 and rng.random() < 0.92:
            done = at + datetime.timedelta(hours=rng.uniform(1, 96))
        return [
            self.organization_id, rng.choice(interaction_demo.TASK_TITLES), customer,
            rng.choice(self.staff), due, done, interaction, rng.choice(self.staff), at,
        ]  # fmt: skip


def vacuum_analyze() -> None:
    """What autovacuum would do after a load: statistics and the visibility map (as the owner)."""
    tables = [m._meta.db_table for m in (Customer, ConsentEvent, Interaction, PurchaseLine)]
    tables += [Case._meta.db_table, Task._meta.db_table]
    with connections[OWNER_ALIAS].cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", default=DEFAULT_SLUG, help="the organization's slug")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000, help="in all")
    parser.add_argument("--heavy-interactions", type=int, default=5_000, help="BENCH-HEAVY's")
    parser.add_argument("--seed", type=int, default=7)
    today = datetime.datetime.now(datetime.UTC).date()
    parser.add_argument(
        "--end-date",
        type=datetime.date.fromisoformat,
        default=today,
        help="the history covers the two years before it (default: today)",
    )
    parser.add_argument("--replace", action="store_true", help="drop and rebuild the database")
    args = parser.parse_args(argv)
    if args.customers < 2 or not 0 <= args.heavy_interactions <= args.interactions:
        parser.error("need --customers >= 2 and 0 <= --heavy-interactions <= --interactions")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    database = str(settings.DATABASES[OWNER_ALIAS]["NAME"])
    started = time.perf_counter()
    if args.replace:
        connections.close_all()
        dbsetup.drop_database(database)
    dbsetup.setup_database(verbosity=0)
    if Organization.objects.filter(slug=args.slug).exists():
        raise SystemExit(f"{database} already has an organization {args.slug!r}: pass --replace.")
    organization = Organization.objects.create(
        name=f"Bench Outfitters ({args.slug})", slug=args.slug, timezone="Europe/London",
        currency="GBP",
    )  # fmt: skip
    seconds: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        seconds[name] = round(time.perf_counter() - since, 1)
        _log(f"{name}: {seconds[name]}s")
        return time.perf_counter()

    with tenant_context(organization.pk):
        mark = lap("setup", started)
        tenant = Tenant(args, organization)
        customers, consents = tenant.customers(args.customers)
        write([(Customer, CUSTOMER_COLUMNS, customers), (ConsentEvent, CONSENT_COLUMNS, consents)])
        mark = lap("customers", mark)
        tenant.interactions(args.interactions, args.heavy_interactions)
        CaseCounter.objects.create(organization=organization, last_number=tenant.case_number)
        mark = lap("interactions", mark)
        vacuum_analyze()
        lap("vacuum_analyze", mark)
    return {
        "database": database,
        "slug": organization.slug,
        "organization_id": organization.pk,
        "heavy_customer_id": tenant.heavy_id,
        "rows": {
            "customers": len(customers),
            "consent_events": len(consents),
            **tenant.counts,
            "heavy_customer_interactions": args.heavy_interactions,
        },
        "seconds": {**seconds, "total": round(time.perf_counter() - started, 1)},
        "member_login": f"sales1@{organization.slug}.bench.touchpoint.test / {MEMBER_PASSWORD}",
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
