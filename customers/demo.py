"""Demo customers for Northwind Outfitters (an outdoor-gear retailer in the UK).

About 2,400 believable people and a dozen company accounts, with owners, stages, tags, consent
histories and two custom fields. Deterministic for a given seed. Addresses use the reserved
`.example` domains and Ofcom's drama phone ranges, so no real person can be contacted.
"""

import datetime
import random
import unicodedata
from typing import Any

from django.utils import timezone

from crm.models import Organization, User
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition
from customers.services import build_search_document, normalize_emails, normalize_phones

PEOPLE = 2400
# Ofcom's numbers reserved for drama: one mobile range and a thousand numbers in each of these
# geographic ranges, so no real person is ever called.
DRAMA_LANDLINE_PREFIXES = [
    "+44 113 496 0",
    "+44 114 496 0",
    "+44 115 496 0",
    "+44 116 496 0",
    "+44 117 496 0",
    "+44 118 496 0",
    "+44 121 496 0",
    "+44 131 496 0",
    "+44 141 496 0",
    "+44 151 496 0",
    "+44 161 496 0",
]

FIRST_NAMES = [
    "Oliver",
    "Amelia",
    "George",
    "Isla",
    "Harry",
    "Ava",
    "Noah",
    "Mia",
    "Jack",
    "Ivy",
    "Leo",
    "Freya",
    "Arthur",
    "Lily",
    "Muhammad",
    "Florence",
    "Oscar",
    "Willow",
    "Charlie",
    "Rosie",
    "Thomas",
    "Sophia",
    "Henry",
    "Evie",
    "Alfie",
    "Grace",
    "Archie",
    "Poppy",
    "Theo",
    "Daisy",
    "Freddie",
    "Sienna",
    "Joshua",
    "Chloe",
    "Jacob",
    "Zoë",
    "Samuel",
    "Priya",
    "Aarav",
    "Niamh",
    "Callum",
    "Eilidh",
    "Rhys",
    "Seren",
    "Declan",
    "Aoife",
    "Tomasz",
    "Agnieszka",
    "Kwame",
    "Adaeze",
    "Hamza",
    "Fatima",
    "Ravi",
    "Anjali",
    "Chen",
    "Mei",
    "Luca",
    "Giulia",
    "Mateo",
    "Lucía",
    "Ewan",
    "Morag",
    "Dylan",
    "Ffion",
    "Ethan",
    "Hannah",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Thomas",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Hughes",
    "Moore",
    "Clark",
    "King",
    "Harrison",
    "Lewis",
    "Baker",
    "Lee",
    "Allen",
    "Morris",
    "Khan",
    "Scott",
    "Watson",
    "Davis",
    "Parker",
    "James",
    "Bennett",
    "Young",
    "Phillips",
    "Richardson",
    "Mitchell",
    "Bailey",
    "Carter",
    "Cook",
    "Singh",
    "Shaw",
    "Bell",
    "Collins",
    "Morgan",
    "Kelly",
    "Begum",
    "Miller",
    "Cox",
    "Hussain",
    "Marshall",
    "Simpson",
    "Price",
    "Anderson",
    "Adams",
    "Wilkinson",
    "Ali",
    "O'Brien",
    "MacDonald",
    "Nowak",
    "Okafor",
    "Mensah",
    "Chen",
    "Rossi",
    "García",
    "Fraser",
    "Ahmed",
]
CITIES = [
    ("London", "Greater London", ["SW1A", "EC2A", "N1", "SE1", "E8", "NW3"]),
    ("Manchester", "Greater Manchester", ["M1", "M4", "M20"]),
    ("Bristol", "Bristol", ["BS1", "BS6", "BS8"]),
    ("Leeds", "West Yorkshire", ["LS1", "LS6"]),
    ("Glasgow", "Scotland", ["G1", "G12"]),
    ("Edinburgh", "Scotland", ["EH1", "EH3", "EH9"]),
    ("Birmingham", "West Midlands", ["B1", "B15"]),
    ("Liverpool", "Merseyside", ["L1", "L17"]),
    ("Cardiff", "Wales", ["CF10", "CF24"]),
    ("Brighton", "East Sussex", ["BN1", "BN2"]),
    ("Oxford", "Oxfordshire", ["OX1", "OX4"]),
    ("York", "North Yorkshire", ["YO1", "YO31"]),
    ("Norwich", "Norfolk", ["NR1", "NR2"]),
    ("Keswick", "Cumbria", ["CA12"]),
    ("Inverness", "Scotland", ["IV1", "IV2"]),
]
STREETS = [
    "High",
    "Church",
    "Station",
    "Victoria",
    "Mill",
    "Park",
    "Queen's",
    "King's",
    "Green",
    "Manor",
    "Bridge",
    "Castle",
    "Chapel",
    "Orchard",
    "Meadow",
    "Riverside",
    "Hillside",
]
STREET_KINDS = ["Street", "Road", "Lane", "Avenue", "Close", "Way", "Terrace"]
PERSONAL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]
COMPANIES = [
    ("Harbour & Pine Ltd", "harbourpine.example", "London"),
    ("Fellside Trading Co.", "fellside.example", "Manchester"),
    ("Brackenwood Academy Trust", "brackenwood.example", "Leeds"),
    ("Cairngorm Guiding", "cairngormguiding.example", "Inverness"),
    ("Severn Valley Scouts", "severnscouts.example", "Bristol"),
    ("Kestrel Events", "kestrelevents.example", "Birmingham"),
    ("Moorland Mountain Rescue", "moorlandmrt.example", "York"),
    ("Tidewater Sailing Club", "tidewater.example", "Brighton"),
    ("Oakridge Corporate Retreats", "oakridge.example", "Oxford"),
    ("Greystone Construction", "greystone.example", "Glasgow"),
    ("Riverside Cycling Collective", "riversidecycles.example", "Cardiff"),
    ("Lakeland Walking Holidays", "lakelandwalks.example", "Keswick"),
]
STAGES = [("customer", 45), ("lead", 20), ("prospect", 25), ("inactive", 10)]
SOURCES = [
    ("web", 35),
    ("store", 30),
    ("referral", 10),
    ("catalog", 10),
    ("trade show", 5),
    ("social", 10),
]
CHANNELS = [("email", 50), ("sms", 15), ("phone", 15), ("mail", 5), ("", 15)]


def _weighted(rng: random.Random, options: list[tuple[str, int]]) -> str:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _address(rng: random.Random, city_name: str | None = None) -> dict[str, str]:
    city, region, prefixes = (
        next(item for item in CITIES if item[0] == city_name) if city_name else rng.choice(CITIES)
    )
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    postcode = (
        f"{rng.choice(prefixes)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    )
    street = f"{rng.randint(1, 180)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}"
    return {
        "street": street,
        "city": city,
        "postal_code": postcode,
        "region": region,
        "country": "GB",
    }


def _moment(
    rng: random.Random, start: datetime.datetime, end: datetime.datetime
) -> datetime.datetime:
    span = max((end - start).total_seconds(), 0)
    return start + datetime.timedelta(seconds=rng.uniform(0, span))


def _customer(
    organization: Organization,
    *,
    kind: str,
    name: str,
    emails: list[str],
    phones: list[str],
    tags: list[str],
    created_at: datetime.datetime,
    updated_at: datetime.datetime,
    **fields: Any,
) -> Customer:
    emails = normalize_emails(emails)
    phones = normalize_phones(phones)
    return Customer(
        organization=organization,
        kind=kind,
        name=name,
        emails=emails,
        phones=phones,
        tags=tags,
        search_document=build_search_document(name=name, emails=emails, phones=phones, tags=tags),
        created_at=created_at,
        updated_at=updated_at,
        **fields,
    )


def load(*, organization: Organization, members: dict[str, User], seed: int) -> None:
    """Create the demo customers of `organization` (run inside its tenant context)."""
    rng = random.Random(seed)
    now = timezone.now()
    owners = [members[role] for role in ("sales", "sales", "service", "manager") if role in members]
    recorders = [members[role] for role in ("sales", "service") if role in members] or owners

    def owner() -> User | None:
        return rng.choice(owners) if owners and rng.random() > 0.12 else None

    CustomFieldDefinition.objects.bulk_create(
        [
            CustomFieldDefinition(
                organization=organization,
                key="loyalty_number",
                label="Loyalty number",
                field_type=CustomFieldDefinition.FieldType.TEXT,
                position=0,
            ),
            CustomFieldDefinition(
                organization=organization,
                key="birthday",
                label="Birthday",
                field_type=CustomFieldDefinition.FieldType.DATE,
                position=1,
            ),
        ]
    )

    landlines = [f"+44 20 7946 0{n:03d}" for n in rng.sample(range(1000), 60)]
    # Every mobile number of the drama range, then geographic ones: about 3,300 numbers.
    mobiles = [
        f"{prefix}{n:03d}"
        for prefix in DRAMA_LANDLINE_PREFIXES[: 1 + PEOPLE // 1000]
        for n in rng.sample(range(1000), 1000)
    ]
    mobiles += [f"+44 7700 900{n:03d}" for n in rng.sample(range(1000), 1000)]

    companies: list[Customer] = []
    for name, domain, city in COMPANIES:
        created = now - datetime.timedelta(days=rng.randint(200, 900))
        companies.append(
            _customer(
                organization,
                kind=Customer.Kind.COMPANY,
                name=name,
                emails=[f"orders@{domain}", f"accounts@{domain}"][: rng.randint(1, 2)],
                phones=[landlines.pop()],
                tags=sorted({"wholesale", *rng.sample(["vip", "catalog", "events"], k=1)}),
                lifecycle_stage=_weighted(rng, [("customer", 80), ("lead", 20)]),
                owner=owner(),
                source=rng.choice(["trade show", "referral", "web"]),
                preferred_channel=rng.choice(["email", "phone"]),
                created_at=created,
                updated_at=_moment(rng, created, now),
                **_address(rng, city),
            )
        )
    Customer.objects.bulk_create(companies)
    domains = {
        company.pk: domain for company, (_, domain, _) in zip(companies, COMPANIES, strict=True)
    }

    names: set[tuple[str, str]] = set()
    while len(names) < PEOPLE:
        names.add((rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)))
    people: list[Customer] = []
    for index, (first, last) in enumerate(sorted(names)):
        company = companies[index % len(companies)] if rng.random() < 0.22 else None
        local = rng.choice(
            [
                f"{_ascii(first)}.{_ascii(last)}",
                f"{_ascii(first)[0]}{_ascii(last)}",
                f"{_ascii(first)}{rng.randint(1, 99)}",
                f"{_ascii(first)}_{_ascii(last)}",
            ]
        )
        emails = [f"{local}@{rng.choice(PERSONAL_DOMAINS)}"]
        if company is not None:
            emails.insert(0, f"{_ascii(first)}.{_ascii(last)}@{domains[company.pk]}")
        if rng.random() < 0.08:
            emails = []
        phones = [mobiles.pop()] if rng.random() < 0.85 else []
        if rng.random() < 0.1:
            phones.append(mobiles.pop())
        tags = []
        if emails and rng.random() < 0.42:
            tags.append("newsletter")
        if rng.random() < 0.08:
            tags.append("vip")
        if company is not None:
            tags.append("wholesale")
        if rng.random() < 0.15:
            tags.append("outdoor-club")
        if rng.random() < 0.05:
            tags.append("returns-risk")
        custom: dict[str, str] = {}
        if rng.random() < 0.55:
            custom["loyalty_number"] = f"NW{rng.randint(1000000, 9999999)}"
        if rng.random() < 0.4:
            born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randint(0, 20000))
            custom["birthday"] = born.isoformat()
        created = now - datetime.timedelta(days=rng.uniform(0, 730))
        people.append(
            _customer(
                organization,
                kind=Customer.Kind.PERSON,
                name=f"{first} {last}",
                company=company,
                emails=emails,
                phones=phones,
                tags=tags,
                lifecycle_stage=_weighted(rng, STAGES),
                owner=owner(),
                source=_weighted(rng, SOURCES),
                preferred_channel=_weighted(rng, CHANNELS),
                custom_fields=custom,
                created_at=created,
                updated_at=_moment(rng, created, now),
                **_address(rng),
            )
        )
    Customer.objects.bulk_create(people, batch_size=500)

    events: list[ConsentEvent] = []

    def consent(
        person: Customer, channel: str, granted: bool, method: str, when: datetime.datetime
    ) -> None:
        verbal = method == ConsentEvent.Method.VERBAL
        events.append(
            ConsentEvent(
                organization=organization,
                customer=person,
                channel=channel,
                granted=granted,
                method=method,
                occurred_at=when,
                recorded_by=rng.choice(recorders) if verbal and recorders else None,
                note="Asked at the till" if verbal and rng.random() < 0.3 else "",
            )
        )

    for person in people:
        first_seen = person.created_at
        if "newsletter" in person.tags:
            consent(person, Channel.EMAIL, True, ConsentEvent.Method.FORM, first_seen)
        elif person.emails and rng.random() < 0.3:
            when = _moment(rng, first_seen, now)
            consent(person, Channel.EMAIL, True, ConsentEvent.Method.FORM, first_seen)
            consent(person, Channel.EMAIL, False, ConsentEvent.Method.UNSUBSCRIBE, when)
        if person.phones and rng.random() < 0.25:
            consent(person, Channel.SMS, True, ConsentEvent.Method.VERBAL, first_seen)
            if rng.random() < 0.2:
                consent(
                    person,
                    Channel.SMS,
                    False,
                    ConsentEvent.Method.VERBAL,
                    _moment(rng, first_seen, now),
                )
        if person.phones and rng.random() < 0.1:
            consent(
                person, Channel.PHONE, rng.random() < 0.7, ConsentEvent.Method.VERBAL, first_seen
            )
        if rng.random() < 0.05:
            consent(person, Channel.MAIL, False, ConsentEvent.Method.WRITTEN, first_seen)
    ConsentEvent.objects.bulk_create(events, batch_size=1000)
