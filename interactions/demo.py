"""Demo data: a product catalog and two years of believable multi-channel history.

Purchases follow a BG/NBD-like story: each customer buys at a personal rate drawn from a gamma
distribution (Poisson purchases while active) and, after each purchase, drops out for good with
a personal probability drawn from a beta distribution. Around the purchases: web visits before
online orders, store visits, newsletters sent / opened / clicked, calls, meetings with
companies, returns (a few chronic returners), complaints that became service cases in every
status, and follow-up tasks. Everything is written with bulk_create, customer chunk by chunk,
so memory stays flat and a few thousand customers load in seconds.
"""

import datetime
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.models import Organization, User
from customers.models import Customer
from interactions.models import (
    DEFAULT_CASE_DUE_HOURS,
    Case,
    CaseCounter,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
    PurchaseLine,
    Task,
)

CHUNK = 500
BATCH = 2000
HISTORY_DAYS = 730
YEAR_DAYS = 365.25

CATALOG: dict[str, list[tuple[str, str]]] = {
    "Jackets": [
        ("Stormline waterproof jacket", "189.00"),
        ("Ridge softshell jacket", "129.00"),
        ("Featherlite down jacket", "219.00"),
        ("Trail windbreaker", "79.00"),
        ("Alpine insulated parka", "279.00"),
        ("Coastal rain poncho", "39.00"),
        ("Summit fleece jacket", "69.00"),
        ("Kids' puddle jacket", "49.00"),
    ],
    "Footwear": [
        ("Highland hiking boots", "159.00"),
        ("Trailrunner shoes", "119.00"),
        ("Approach shoes", "139.00"),
        ("Camp slippers", "35.00"),
        ("Winter snow boots", "149.00"),
        ("Merino hiking socks (3-pack)", "29.00"),
        ("Gaiters", "45.00"),
        ("Waterproof sandals", "59.00"),
    ],
    "Packs & bags": [
        ("Daypack 25 L", "79.00"),
        ("Trekking pack 55 L", "199.00"),
        ("Hydration pack 12 L", "89.00"),
        ("Dry bag set", "34.00"),
        ("Travel duffel 70 L", "119.00"),
        ("Hip pack", "29.00"),
        ("Rain cover", "19.00"),
        ("Camera insert", "39.00"),
    ],
    "Camping": [
        ("Two-person tent", "249.00"),
        ("Ultralight solo tent", "329.00"),
        ("Three-season sleeping bag", "169.00"),
        ("Self-inflating mat", "89.00"),
        ("Backpacking stove", "59.00"),
        ("Cook set", "49.00"),
        ("Headlamp 400", "39.00"),
        ("Water filter", "44.00"),
    ],
    "Accessories": [
        ("Merino beanie", "25.00"),
        ("Touchscreen gloves", "29.00"),
        ("Trekking poles (pair)", "99.00"),
        ("Sun hat", "32.00"),
        ("Insulated bottle 750 ml", "27.00"),
        ("Compass", "22.00"),
        ("First-aid kit", "35.00"),
        ("Neck gaiter", "18.00"),
    ],
}

CALL_SUBJECTS = [
    "Asked about sizing",
    "Order status",
    "Product advice for a trek",
    "Delivery date question",
    "Follow-up on recent purchase",
    "Loyalty programme question",
    "Repair service enquiry",
    "Stock availability",
]
COMPLAINTS = [
    ("Zip broke after two weeks", "The main zip of the jacket split on the second outing."),
    ("Order arrived late", "Promised next-day delivery, arrived after five days."),
    ("Wrong size delivered", "Ordered a medium, received a large."),
    ("Refund not received", "Returned items three weeks ago, still no refund."),
    ("Boots leaking", "Water gets in at the toe after an hour of walking in wet grass."),
    ("Rude staff in store", "Felt rushed and ignored at the checkout."),
    ("Charged twice", "The card statement shows the same order twice."),
    ("Missing item in parcel", "The parcel did not contain the dry bag set."),
]
RETURN_REASONS = [
    "Wrong size",
    "Not as described",
    "Changed my mind",
    "Faulty",
    "Colour differs from the photos",
    "Arrived damaged",
]
MEETING_SUBJECTS = [
    "Quarterly account review",
    "Team kit for the summer expedition",
    "Corporate gifting catalogue",
    "Uniform fitting session",
]
NOTE_BODIES = [
    "Prefers to be called in the afternoon.",
    "Training for a long-distance hike next spring; interested in lightweight gear.",
    "Has two children, buys kids' sizes before the school holidays.",
    "Asked not to receive printed catalogues any more.",
    "Regular at the Leeds store; knows the manager.",
]
TASK_TITLES = [
    "Call back about sizing",
    "Send the repair form",
    "Check the refund went through",
    "Offer a discount on the next order",
    "Invite to the autumn store event",
    "Confirm the delivery date",
]


def _catalog(organization: Organization) -> list[Product]:
    """About forty products in five categories (created once; reused if present)."""
    existing = list(Product.objects.filter(organization=organization).order_by("id"))
    if existing:
        return existing
    products = [
        Product(
            organization=organization,
            sku=f"{category[:3].upper()}-{index:03d}",
            name=name,
            category=category,
            price=Decimal(price),
        )
        for category, items in CATALOG.items()
        for index, (name, price) in enumerate(items, start=1)
    ]
    return Product.objects.bulk_create(products)


@dataclass
class _Purchase:
    interaction: Interaction
    lines: list[PurchaseLine] = field(default_factory=list)
    returns_rate: float = 0.0


@dataclass
class _Chunk:
    """Rows of one chunk of customers, written in dependency order."""

    interactions: list[Interaction] = field(default_factory=list)
    purchases: list[_Purchase] = field(default_factory=list)
    cases: list[tuple[Case, Interaction, list[Interaction]]] = field(default_factory=list)
    task_specs: list[tuple[Interaction, dict[str, Any]]] = field(default_factory=list)


class _Generator:
    def __init__(
        self,
        organization: Organization,
        members: dict[str, User],
        rng: random.Random,
        products: Sequence[Product],
    ) -> None:
        self.organization = organization
        self.rng = rng
        self.now = timezone.now()
        self.start = self.now - datetime.timedelta(days=HISTORY_DAYS)
        self.products = list(products)
        self.by_category: dict[str, list[Product]] = {}
        for product in self.products:
            self.by_category.setdefault(product.category, []).append(product)
        self.categories = sorted(self.by_category)
        self.sales = [members[r] for r in ("sales", "manager", "owner") if r in members]
        self.service = [members[r] for r in ("service", "manager") if r in members]
        self.order_number = 10_000
        self.case_number = 0
        self.currency = organization.currency

    # -- small helpers --------------------------------------------------------------------------

    def _at(self, days: float) -> datetime.datetime:
        return self.start + datetime.timedelta(days=days)

    def _days(self, moment: datetime.datetime) -> float:
        return (moment - self.start).total_seconds() / 86_400

    def _poisson(self, mean: float) -> int:
        # Knuth's method: fine for the small means used here.
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _business_time(self, day: float) -> datetime.datetime:
        """A moment on that day between 8:00 and 20:00."""
        base = self._at(math.floor(day))
        return base + datetime.timedelta(minutes=self.rng.randint(8 * 60, 20 * 60))

    def _interaction(self, customer_id: int, **fields: Any) -> Interaction:
        occurred_at = fields["occurred_at"]
        return Interaction(
            organization=self.organization,
            customer_id=customer_id,
            created_at=occurred_at,
            **fields,
        )

    # -- one customer ---------------------------------------------------------------------------

    def customer(self, chunk: _Chunk, pk: int, kind: str, owner_id: int | None, stage: str) -> None:
        rng = self.rng
        span = HISTORY_DAYS - 3
        acquired = span * (1 - rng.random() ** 1.6)  # more long-standing customers
        acquired = min(acquired, span - 1)
        is_company = kind == Customer.Kind.COMPANY
        staff = [user for user in self.sales if user.pk == owner_id] or self.sales
        # Personal traits: BG/NBD purchase rate (per year) and dropout probability.
        rate = rng.gammavariate(1.5, 2.4) * (1.6 if is_company else 1.0)
        dropout = rng.betavariate(1.0, 4.0)
        # Prospects and leads have not bought yet; inactive customers stopped long ago.
        buys = stage not in (Customer.LifecycleStage.PROSPECT, Customer.LifecycleStage.LEAD)
        if stage == Customer.LifecycleStage.INACTIVE:
            acquired = min(acquired, rng.uniform(0, HISTORY_DAYS - 300))
            dropout = max(dropout, 0.6)
        channel = rng.choices(
            [Channel.STORE, Channel.WEB, Channel.MAIL, Channel.PHONE], [50, 40, 6, 4]
        )[0]
        favourite = rng.choice(self.categories)
        chronic = rng.random() < 0.04
        return_rate = rng.uniform(0.45, 0.75) if chronic else rng.choice([0.0, 0.03, 0.06, 0.1])
        open_rate = rng.betavariate(2.0, 3.0)
        active_until = float(HISTORY_DAYS)

        if buys:
            day = acquired
            for _ in range(60):
                if day >= HISTORY_DAYS - 0.1:
                    break
                self._purchase(chunk, pk, day, channel, favourite, return_rate)
                if rng.random() < dropout:
                    active_until = day + 30
                    break
                day += rng.expovariate(max(rate, 0.05)) * YEAR_DAYS
                if stage == Customer.LifecycleStage.INACTIVE and day > HISTORY_DAYS - 270:
                    active_until = day - 200
                    break

        self._newsletters(chunk, pk, acquired, active_until, open_rate)
        for _ in range(self._poisson(2.5)):
            day = rng.uniform(acquired, min(active_until + 60, HISTORY_DAYS - 0.1))
            chunk.interactions.append(
                self._interaction(
                    pk,
                    kind=Kind.WEB_VISIT,
                    channel=Channel.WEB,
                    direction=Direction.INBOUND,
                    occurred_at=self._business_time(day),
                    source="website",
                    subject=rng.choice(["Browsed", "Viewed"]) + " " + rng.choice(self.categories),
                    metadata={"pages": rng.randint(1, 12)},
                )
            )
        if channel == Channel.STORE:
            for _ in range(self._poisson(1.2)):
                day = rng.uniform(acquired, min(active_until, HISTORY_DAYS - 0.1))
                chunk.interactions.append(
                    self._interaction(
                        pk,
                        kind=Kind.STORE_VISIT,
                        channel=Channel.STORE,
                        direction=Direction.INBOUND,
                        occurred_at=self._business_time(day),
                        source="store-wifi",
                        subject="Visited the store",
                    )
                )
        calls = []
        for _ in range(self._poisson(1.8 if is_company else 0.8)):
            day = rng.uniform(acquired, HISTORY_DAYS - 0.1)
            inbound = rng.random() < 0.45
            call = self._interaction(
                pk,
                kind=Kind.CALL,
                channel=Channel.PHONE,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                occurred_at=self._business_time(day),
                user=rng.choice(staff),
                subject=rng.choice(CALL_SUBJECTS),
                body=rng.choice(["", "", "Customer happy with the answer.", "Will call back."]),
                metadata={"duration_seconds": rng.randint(40, 900)},
            )
            calls.append(call)
            chunk.interactions.append(call)
        if is_company:
            for _ in range(rng.randint(1, 4)):
                day = rng.uniform(acquired, HISTORY_DAYS - 0.1)
                chunk.interactions.append(
                    self._interaction(
                        pk,
                        kind=Kind.MEETING,
                        channel=Channel.IN_PERSON,
                        direction=Direction.NONE,
                        occurred_at=self._business_time(day),
                        user=rng.choice(staff),
                        subject=rng.choice(MEETING_SUBJECTS),
                    )
                )
        if rng.random() < 0.12:
            chunk.interactions.append(
                self._interaction(
                    pk,
                    kind=Kind.NOTE,
                    channel=Channel.OTHER,
                    direction=Direction.NONE,
                    occurred_at=self._business_time(rng.uniform(acquired, HISTORY_DAYS - 0.1)),
                    user=rng.choice(staff),
                    body=rng.choice(NOTE_BODIES),
                )
            )
        if rng.random() < (0.3 if chronic else 0.09):
            # Nearly half are recent, so the service queue has work in every state.
            recent = rng.random() < 0.45
            day = rng.uniform(max(acquired, HISTORY_DAYS - 21), HISTORY_DAYS - 0.1)
            self._complaint(chunk, pk, day if recent else rng.uniform(acquired, HISTORY_DAYS - 0.1))
        if calls and rng.random() < 0.25:
            call = rng.choice(calls)
            chunk.task_specs.append((call, {"title": rng.choice(TASK_TITLES)}))
        if stage == Customer.LifecycleStage.LEAD and rng.random() < 0.35:
            # Fresh interest from a lead: a recent web visit and a follow-up for sales.
            visit = self._interaction(
                pk,
                kind=Kind.WEB_VISIT,
                channel=Channel.WEB,
                direction=Direction.INBOUND,
                occurred_at=self._business_time(rng.uniform(HISTORY_DAYS - 10, HISTORY_DAYS - 0.5)),
                source="website",
                subject=f"Viewed {favourite} (pricing page)",
                metadata={"pages": rng.randint(3, 20)},
            )
            chunk.interactions.append(visit)
            chunk.task_specs.append(
                (
                    visit,
                    {
                        "title": f"Follow up on interest in {favourite.lower()}",
                        "assignee": staff[0],
                    },
                )
            )

    def _purchase(
        self,
        chunk: _Chunk,
        pk: int,
        day: float,
        channel: str,
        favourite: str,
        return_rate: float,
    ) -> None:
        rng = self.rng
        this_channel = channel if rng.random() < 0.8 else rng.choice([Channel.STORE, Channel.WEB])
        occurred_at = self._business_time(day)
        if this_channel == Channel.WEB:
            for _ in range(rng.randint(1, 3)):
                chunk.interactions.append(
                    self._interaction(
                        pk,
                        kind=Kind.WEB_VISIT,
                        channel=Channel.WEB,
                        direction=Direction.INBOUND,
                        occurred_at=occurred_at - datetime.timedelta(hours=rng.uniform(0.2, 72)),
                        source="website",
                        subject=f"Viewed {favourite}",
                        metadata={"pages": rng.randint(2, 15)},
                    )
                )
        lines = []
        for _ in range(rng.choices([1, 2, 3, 4], [55, 28, 12, 5])[0]):
            category = favourite if rng.random() < 0.6 else rng.choice(self.categories)
            product = rng.choice(self.by_category[category])
            price = product.price
            if rng.random() < 0.15:
                price = (price * Decimal(rng.choice(["0.8", "0.85", "0.9"]))).quantize(
                    Decimal("0.01")
                )
            lines.append(
                PurchaseLine(
                    organization=self.organization,
                    product=product,
                    quantity=rng.choices([1, 2, 3], [85, 12, 3])[0],
                    unit_price=price,
                )
            )
        amount = sum((line.total for line in lines), Decimal("0.00"))
        count = sum(line.quantity for line in lines)
        self.order_number += 1
        source = "webshop" if this_channel == Channel.WEB else "pos"
        interaction = self._interaction(
            pk,
            kind=Kind.PURCHASE,
            channel=this_channel,
            direction=Direction.INBOUND,
            occurred_at=occurred_at,
            source=source,
            external_id=f"NW-{self.order_number}",
            subject=f"Order NW-{self.order_number}: {count} item{'s' if count != 1 else ''}",
            amount=amount,
            currency=self.currency,
        )
        chunk.interactions.append(interaction)
        chunk.purchases.append(_Purchase(interaction, lines, return_rate))

    def _newsletters(
        self, chunk: _Chunk, pk: int, acquired: float, active_until: float, open_rate: float
    ) -> None:
        rng = self.rng
        day = acquired + rng.uniform(1, 28)
        while day < HISTORY_DAYS - 0.5:
            sent_at = self._at(math.floor(day)) + datetime.timedelta(hours=9)
            campaign = f"newsletter-{sent_at:%Y-%m}"
            chunk.interactions.append(
                self._interaction(
                    pk,
                    kind=Kind.EMAIL_SENT,
                    channel=Channel.EMAIL,
                    direction=Direction.OUTBOUND,
                    occurred_at=sent_at,
                    source="newsletter",
                    subject=f"Northwind news, {sent_at:%B %Y}",
                    metadata={"campaign": campaign},
                )
            )
            engaged = open_rate if day <= active_until else open_rate * 0.3
            if rng.random() < engaged:
                opened_at = sent_at + datetime.timedelta(hours=rng.uniform(0.1, 48))
                if opened_at < self.now:
                    chunk.interactions.append(
                        self._interaction(
                            pk,
                            kind=Kind.EMAIL_OPENED,
                            channel=Channel.EMAIL,
                            direction=Direction.INBOUND,
                            occurred_at=opened_at,
                            source="newsletter",
                            subject=f"Opened: Northwind news, {sent_at:%B %Y}",
                            metadata={"campaign": campaign},
                        )
                    )
                    if rng.random() < 0.3:
                        chunk.interactions.append(
                            self._interaction(
                                pk,
                                kind=Kind.EMAIL_CLICKED,
                                channel=Channel.EMAIL,
                                direction=Direction.INBOUND,
                                occurred_at=opened_at
                                + datetime.timedelta(minutes=rng.randint(1, 10)),
                                source="newsletter",
                                subject=f"Clicked: {rng.choice(self.categories)}",
                                metadata={"campaign": campaign},
                            )
                        )
            day += 28

    def _complaint(self, chunk: _Chunk, pk: int, day: float) -> None:
        rng = self.rng
        subject, body = rng.choice(COMPLAINTS)
        occurred_at = self._business_time(day)
        complaint = self._interaction(
            pk,
            kind=Kind.COMPLAINT,
            channel=rng.choice([Channel.PHONE, Channel.EMAIL, Channel.STORE, Channel.SOCIAL]),
            direction=Direction.INBOUND,
            occurred_at=occurred_at,
            subject=subject,
            body=body,
        )
        chunk.interactions.append(complaint)
        age_days = (self.now - occurred_at).days
        if age_days < 21 and self.service and rng.random() < 0.5:
            chunk.task_specs.append(
                (
                    complaint,
                    {"title": f"Call back about: {subject}", "assignee": rng.choice(self.service)},
                )
            )
        if rng.random() > 0.75 or not self.service:
            return
        priority = rng.choices(
            [Case.Priority.LOW, Case.Priority.NORMAL, Case.Priority.HIGH, Case.Priority.URGENT],
            [15, 55, 22, 8],
        )[0]
        if age_days > 21:
            status = rng.choices(
                [Case.Status.CLOSED, Case.Status.RESOLVED, Case.Status.PENDING], [70, 25, 5]
            )[0]
        else:
            status = rng.choice(
                [
                    Case.Status.NEW,
                    Case.Status.OPEN,
                    Case.Status.OPEN,
                    Case.Status.PENDING,
                    Case.Status.RESOLVED,
                ]
            )
        assignee = (
            None if status == Case.Status.NEW and rng.random() < 0.6 else rng.choice(self.service)
        )
        opened_at = occurred_at + datetime.timedelta(minutes=rng.randint(2, 90))
        if opened_at > self.now:
            opened_at = self.now
        self.case_number += 1
        resolved_at = None
        if status in (Case.Status.RESOLVED, Case.Status.CLOSED):
            resolved_at = min(opened_at + datetime.timedelta(hours=rng.uniform(2, 200)), self.now)
        case = Case(
            organization=self.organization,
            number=self.case_number,
            customer_id=pk,
            subject=subject,
            description=body,
            status=status,
            priority=priority,
            assignee=assignee,
            opened_by=rng.choice(self.service),
            due_at=opened_at + datetime.timedelta(hours=DEFAULT_CASE_DUE_HOURS[priority]),
            created_at=opened_at,
            updated_at=resolved_at or opened_at,
            resolved_at=resolved_at,
        )
        updates = [
            self._interaction(
                pk,
                kind=Kind.CASE_UPDATE,
                channel=Channel.OTHER,
                direction=Direction.NONE,
                occurred_at=opened_at,
                user=case.opened_by,
                subject=f"Case #{case.number} opened: {subject}",
                metadata={"case_number": case.number, "change": "opened", "priority": priority},
            )
        ]
        if assignee is not None:
            updates.append(
                self._interaction(
                    pk,
                    kind=Kind.CASE_UPDATE,
                    channel=Channel.OTHER,
                    direction=Direction.NONE,
                    occurred_at=opened_at + datetime.timedelta(minutes=5),
                    user=case.opened_by,
                    subject=f"Case #{case.number} assigned to {assignee.display_name}",
                    metadata={"case_number": case.number, "change": "assignee"},
                )
            )
        if status != Case.Status.NEW:
            changed_at = resolved_at or min(opened_at + datetime.timedelta(hours=1), self.now)
            updates.append(
                self._interaction(
                    pk,
                    kind=Kind.CASE_UPDATE,
                    channel=Channel.OTHER,
                    direction=Direction.NONE,
                    occurred_at=changed_at,
                    user=assignee or case.opened_by,
                    subject=f"Case #{case.number}: New → {case.get_status_display()}",
                    metadata={
                        "case_number": case.number,
                        "change": "status",
                        "status_from": "new",
                        "status_to": status,
                    },
                )
            )
        chunk.cases.append((case, complaint, updates))

    # -- writing --------------------------------------------------------------------------------

    def returns(self, chunk: _Chunk) -> tuple[list[Interaction], list[PurchaseLine]]:
        """Returns of some purchase lines (after the purchases' lines have ids)."""
        rng = self.rng
        interactions: list[Interaction] = []
        lines: list[PurchaseLine] = []
        for purchase in chunk.purchases:
            if not purchase.returns_rate or rng.random() >= purchase.returns_rate:
                continue
            returned_at = purchase.interaction.occurred_at + datetime.timedelta(
                days=rng.uniform(2, 28)
            )
            if returned_at >= self.now:
                continue
            picked = rng.sample(purchase.lines, k=rng.randint(1, len(purchase.lines)))
            return_lines = [
                PurchaseLine(
                    organization=self.organization,
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    returned_line_id=line.pk,
                )
                for line in picked
            ]
            count = sum(line.quantity for line in return_lines)
            interaction = self._interaction(
                purchase.interaction.customer_id,
                kind=Kind.RETURN,
                channel=purchase.interaction.channel
                if purchase.interaction.channel in (Channel.STORE, Channel.WEB)
                else Channel.MAIL,
                direction=Direction.INBOUND,
                occurred_at=returned_at,
                source=purchase.interaction.source,
                external_id=f"R-{purchase.interaction.external_id}",
                subject=f"Return of {count} item{'s' if count != 1 else ''}",
                body=rng.choice(RETURN_REASONS),
                amount=sum((line.total for line in return_lines), Decimal("0.00")),
                currency=self.currency,
            )
            interactions.append(interaction)
            lines.extend(return_lines)
            for line in return_lines:
                line.interaction = interaction
        return interactions, lines

    def tasks(self, chunk: _Chunk) -> list[Task]:
        rng = self.rng
        today = self.now.date()
        tasks = []
        for interaction, spec in chunk.task_specs:
            created_at = min(interaction.occurred_at + datetime.timedelta(minutes=10), self.now)
            age = (self.now - created_at).days
            due = created_at.date() + datetime.timedelta(days=rng.randint(1, 14))
            done_at = None
            if age > 20 or (age > 3 and rng.random() < 0.5):
                done_at = min(created_at + datetime.timedelta(days=rng.uniform(0.1, 10)), self.now)
            elif due < today - datetime.timedelta(days=10):
                due = today + datetime.timedelta(days=rng.randint(-5, 10))
            tasks.append(
                Task(
                    organization=self.organization,
                    title=spec["title"],
                    customer_id=interaction.customer_id,
                    assignee=spec.get("assignee") or interaction.user or rng.choice(self.sales),
                    due_date=due,
                    done_at=done_at,
                    interaction=interaction,
                    created_by=interaction.user,
                    created_at=created_at,
                )
            )
        return tasks


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def load_demo_interactions(
    *, organization: Organization, members: dict[str, User], seed: int
) -> None:
    """Fill the demo organization's customers with a catalog and two years of history."""
    rng = random.Random(seed * 7919 + 20)
    products = _catalog(organization)
    generator = _Generator(organization, members, rng, products)
    customers = list(
        Customer.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("pk", "kind", "owner_id", "lifecycle_stage")
    )
    for rows in _chunks(customers, CHUNK):
        chunk = _Chunk()
        for pk, kind, owner_id, stage in rows:
            generator.customer(chunk, pk, kind, owner_id, stage)
        Case.objects.bulk_create([case for case, _, _ in chunk.cases], batch_size=BATCH)
        for case, complaint, updates in chunk.cases:
            complaint.case = case
            for update in updates:
                update.case = case
                chunk.interactions.append(update)
        Interaction.objects.bulk_create(chunk.interactions, batch_size=BATCH)
        lines = []
        for purchase in chunk.purchases:
            for line in purchase.lines:
                line.interaction = purchase.interaction
                lines.append(line)
        PurchaseLine.objects.bulk_create(lines, batch_size=BATCH)
        returns, return_lines = generator.returns(chunk)
        Interaction.objects.bulk_create(returns, batch_size=BATCH)
        for line in return_lines:
            line.interaction_id = line.interaction.pk
        PurchaseLine.objects.bulk_create(return_lines, batch_size=BATCH)
        Task.objects.bulk_create(generator.tasks(chunk), batch_size=BATCH)
    if generator.case_number:
        CaseCounter.objects.update_or_create(
            organization=organization, defaults={"last_number": generator.case_number}
        )
