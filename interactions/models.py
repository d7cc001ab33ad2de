"""Touchpoints on every channel, products and purchase lines, service cases and tasks.

Every model is tenant-owned: foreign keys carry no single-column index (db_index=False) and each
lookup is served by a composite index that starts with the organization, so that one tenant's
rows stay together (and the data can be distributed by tenant later).
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from crm.models import TenantModel


class Channel(models.TextChoices):
    """Where a touchpoint happened."""

    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"
    CHAT = "chat", "Chat"
    WEB = "web", "Web"
    STORE = "store", "Store"
    MAIL = "mail", "Mail / catalog"
    SOCIAL = "social", "Social media"
    IN_PERSON = "in_person", "In person"
    OTHER = "other", "Other"


class Kind(models.TextChoices):
    """What happened."""

    NOTE = "note", "Note"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL_SENT = "email_sent", "E-mail sent"
    EMAIL_OPENED = "email_opened", "E-mail opened"
    EMAIL_CLICKED = "email_clicked", "E-mail clicked"
    WEB_VISIT = "web_visit", "Web visit"
    STORE_VISIT = "store_visit", "Store visit"
    PURCHASE = "purchase", "Purchase"
    RETURN = "return", "Return"
    COMPLAINT = "complaint", "Complaint"
    SURVEY_RESPONSE = "survey_response", "Survey response"
    CASE_UPDATE = "case_update", "Case update"
    CAMPAIGN_EXPOSURE = "campaign_exposure", "Campaign exposure"
    CAMPAIGN_RESPONSE = "campaign_response", "Campaign response"


class Direction(models.TextChoices):
    """Who started it: the customer (inbound), the organization (outbound), or neither."""

    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    NONE = "none", "None"


# Bookkeeping by staff, not contact with the customer: left out of "first/last contact" and of
# the channel the customer uses most.
INTERNAL_KINDS = frozenset({Kind.NOTE, Kind.CASE_UPDATE})

# The channel a kind happens on unless told otherwise (the quick actions preset it).
DEFAULT_CHANNEL_OF_KIND: dict[str, str] = {
    Kind.NOTE: Channel.OTHER,
    Kind.CALL: Channel.PHONE,
    Kind.MEETING: Channel.IN_PERSON,
    Kind.EMAIL_SENT: Channel.EMAIL,
    Kind.EMAIL_OPENED: Channel.EMAIL,
    Kind.EMAIL_CLICKED: Channel.EMAIL,
    Kind.WEB_VISIT: Channel.WEB,
    Kind.STORE_VISIT: Channel.STORE,
    Kind.PURCHASE: Channel.STORE,
    Kind.RETURN: Channel.STORE,
    Kind.COMPLAINT: Channel.PHONE,
    Kind.SURVEY_RESPONSE: Channel.EMAIL,
    Kind.CASE_UPDATE: Channel.OTHER,
    Kind.CAMPAIGN_EXPOSURE: Channel.EMAIL,
    Kind.CAMPAIGN_RESPONSE: Channel.EMAIL,
}


class Product(TenantModel):
    """An item of the organization's catalog; purchase lines point to it.

    Products are deactivated rather than deleted, so past purchases keep their lines.
    """

    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sku"], name="product_unique_sku")
        ]
        indexes = [
            models.Index(fields=["organization", "name"], name="product_org_name_idx"),
            models.Index(
                fields=["organization", "category", "name"], name="product_org_category_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Interaction(TenantModel):
    """One touchpoint with a customer on any channel: the unit of the 360-degree timeline.

    Logged by a member of staff (`user`) or sent by another system (`source`). An event another
    system sends carries its `external_id`; (source, external_id) is unique per organization, so
    the same event sent twice is stored once. Purchases and returns carry their `amount` and
    their lines; case updates point to their case.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,  # interaction_customer_time_idx
    )
    channel = models.CharField(max_length=12, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.NONE)
    occurred_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # interaction_user_time_idx
        help_text="The member of staff who logged it, if any.",
    )
    source = models.CharField(
        max_length=50, blank=True, help_text="The system that sent it, e.g. webshop or pos."
    )
    external_id = models.CharField(max_length=100, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    case = models.ForeignKey(
        "Case",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
        db_index=False,  # interaction_case_idx
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The timeline: one customer's touchpoints, newest first, keyset-paged.
            models.Index(
                fields=["organization", "customer", "-occurred_at", "-id"],
                name="interaction_customer_time_idx",
            ),
            models.Index(
                fields=["organization", "kind", "-occurred_at"], name="interaction_kind_time_idx"
            ),
            models.Index(
                fields=["organization", "user", "-occurred_at"], name="interaction_user_time_idx"
            ),
            models.Index(
                fields=["organization", "case", "occurred_at"],
                name="interaction_case_idx",
                condition=models.Q(case__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="interaction_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        label = self.get_kind_display()
        return f"{label}: {self.subject}" if self.subject else label

    @property
    def is_internal(self) -> bool:
        return self.kind in INTERNAL_KINDS


class PurchaseLine(TenantModel):
    """A product on a purchase (quantity at a unit price), or a returned product on a return.

    A return's lines point to the purchase lines they give back (`returned_line`), so a return
    can be traced to what was bought.
    """

    interaction = models.ForeignKey(
        Interaction,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,  # purchaseline_interaction_idx
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,  # purchaseline_product_idx
    )
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    returned_line = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="returns",
        db_index=False,  # purchaseline_returned_idx
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["organization", "interaction"], name="purchaseline_interaction_idx"
            ),
            models.Index(fields=["organization", "product"], name="purchaseline_product_idx"),
            models.Index(
                fields=["organization", "returned_line"],
                name="purchaseline_returned_idx",
                condition=models.Q(returned_line__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id}"

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


class CaseCounter(TenantModel):
    """The last case number given out in an organization (one row per organization).

    Numbers are allocated with one INSERT ... ON CONFLICT DO UPDATE ... RETURNING, which locks
    the row until the transaction ends, so concurrent case openings never share a number.
    """

    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="casecounter_one_per_org")
        ]

    def __str__(self) -> str:
        return str(self.last_number)


# Hours from opening to the due time of a case, per priority. Settings may override
# (INTERACTIONS_CASE_DUE_HOURS = {"urgent": 2, ...}); interactions.services.case_due_hours reads it.
DEFAULT_CASE_DUE_HOURS: dict[str, int] = {"urgent": 4, "high": 24, "normal": 72, "low": 168}


class Case(TenantModel):
    """A service case: a customer's problem someone owns until it is resolved.

    Numbered per organization (#1, #2, ...). Due `DEFAULT_CASE_DUE_HOURS[priority]` after it is
    opened. Every change of assignee or status is also a `case_update` interaction on the
    customer's timeline.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)

    number = models.PositiveIntegerField(editable=False)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="cases",
        db_index=False,  # case_customer_idx
    )
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # case_assignee_idx
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="case_unique_number")
        ]
        indexes = [
            models.Index(fields=["organization", "status", "due_at"], name="case_status_due_idx"),
            models.Index(
                fields=["organization", "assignee", "status", "due_at"], name="case_assignee_idx"
            ),
            models.Index(
                fields=["organization", "customer", "-created_at"], name="case_customer_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()


class Task(TenantModel):
    """A follow-up someone has to do for a customer, optionally arising from an interaction.

    Done when `done_at` is set. Shown on the assignee's "my tasks" list and on the customer's
    timeline at the time it was created.
    """

    title = models.CharField(max_length=200)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,  # task_customer_time_idx
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # task_assignee_idx
    )
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    interaction = models.ForeignKey(
        Interaction,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        db_index=False,  # task_interaction_idx
        help_text="The interaction this follow-up came from.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "assignee", "done_at", "due_date"],
                name="task_assignee_idx",
            ),
            models.Index(
                fields=["organization", "customer", "-created_at", "-id"],
                name="task_customer_time_idx",
            ),
            models.Index(
                fields=["organization", "interaction"],
                name="task_interaction_idx",
                condition=models.Q(interaction__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def is_overdue_on(self, today: datetime.date) -> bool:
        return self.done_at is None and self.due_date is not None and self.due_date < today
