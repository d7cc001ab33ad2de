"""Customers: people and companies, their consent history, admin-defined custom fields, and
the CSV imports that create and update them."""

import unicodedata

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from crm.models import TenantModel


def _accent_translation() -> tuple[str, str]:
    """Latin letters with accents and their plain lowercase letter, for SQL translate().

    PostgreSQL's unaccent extension is not available everywhere (not on the embedded server),
    so the name key strips accents with translate(), which is immutable and thus allowed in a
    generated column. Upper and lower case are both listed: lower() leaves non-ASCII letters
    alone under the C locale.
    """
    accented, plain = "", ""
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(
            part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
        )
        if base != char and len(base) == 1 and base.isascii() and base.isalpha():
            accented, plain = accented + char, plain + base.lower()
    for char, letter in {"ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l"}.items():
        accented, plain = accented + char, plain + letter
    return accented, plain


ACCENTED_LETTERS, PLAIN_LETTERS = _accent_translation()


def name_key_expression() -> models.Func:
    """translate(lower(btrim(regexp_replace(name, '\\s+', ' ', 'g'))), accented, plain)."""
    collapsed = models.Func(
        models.F("name"),
        models.Value(r"\s+"),
        models.Value(" "),
        models.Value("g"),
        function="regexp_replace",
        output_field=models.TextField(),
    )
    return models.Func(
        Lower(Trim(collapsed)),
        models.Value(ACCENTED_LETTERS),
        models.Value(PLAIN_LETTERS),
        function="translate",
        output_field=models.TextField(),
    )


class Channel(models.TextChoices):
    """Channels a customer can be contacted on (and consent to)."""

    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    MAIL = "mail", "Mail"


class Customer(TenantModel):
    """A person or a company the organization does business with.

    People may belong to a company account. `search_document` is maintained by the services
    (name, e-mails, phone digits) and indexed as full-text for the list's search box.
    """

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        COMPANY = "company", "Company"

    class LifecycleStage(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        LEAD = "lead", "Lead"
        CUSTOMER = "customer", "Customer"
        INACTIVE = "inactive", "Inactive"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=200)
    company = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="people",
        limit_choices_to={"kind": "company"},
        db_index=False,  # customer_org_company_idx
    )
    emails = ArrayField(models.CharField(max_length=254), default=list, blank=True)
    phones = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. US")
    lifecycle_stage = models.CharField(
        max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # customer_org_owner_idx
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    source = models.CharField(max_length=100, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    search_document = models.TextField(blank=True, editable=False)
    search_vector = models.GeneratedField(
        expression=SearchVector("search_document", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # The name as duplicate detection compares it: lowercase, single spaces, no accents.
    name_key = models.GeneratedField(
        expression=name_key_expression(),
        output_field=models.TextField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "name"], name="customer_org_name_idx"),
            models.Index(
                fields=["organization", "lifecycle_stage", "name"], name="customer_org_stage_idx"
            ),
            models.Index(fields=["organization", "owner", "name"], name="customer_org_owner_idx"),
            models.Index(fields=["organization", "company"], name="customer_org_company_idx"),
            models.Index(fields=["organization", "-created_at"], name="customer_org_created_idx"),
            models.Index(fields=["organization", "-updated_at"], name="customer_org_updated_idx"),
            # GIN indexes cannot lead with organization_id without btree_gin, which the
            # embedded PostgreSQL lacks; the planner combines them with the btree indexes.
            GinIndex(fields=["search_vector"], name="customer_search_idx"),
            GinIndex(fields=["tags"], name="customer_tags_idx"),
            # Duplicate detection and import matching: same name key, shared e-mail or phone.
            models.Index(fields=["organization", "name_key"], name="customer_org_namekey_idx"),
            GinIndex(fields=["emails"], name="customer_emails_idx"),
            GinIndex(fields=["phones"], name="customer_phones_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~models.Q(external_id=""),
                name="customer_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def primary_email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def primary_phone(self) -> str:
        return self.phones[0] if self.phones else ""


class ConsentEvent(TenantModel):
    """A customer giving or withdrawing consent on a channel; the latest per channel is current.

    Kept forever with how and by whom it was recorded, so every change can be shown.
    """

    class Method(models.TextChoices):
        FORM = "form", "Web form"
        VERBAL = "verbal", "Verbally (phone or in person)"
        EMAIL = "email", "By e-mail"
        WRITTEN = "written", "In writing"
        IMPORT = "import", "Import"
        API = "api", "API"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="consents",
        db_index=False,  # consent_customer_idx
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    method = models.CharField(max_length=20, choices=Method.choices)
    note = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "customer", "channel", "-occurred_at"],
                name="consent_customer_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {'granted' if self.granted else 'withdrawn'}"


class CustomFieldDefinition(TenantModel):
    """A field admins add to every customer of their organization; values live in custom_fields."""

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"

    key = models.SlugField(
        max_length=50, db_index=False, help_text="Stored name, e.g. loyalty_number"
    )
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=FieldType.choices)
    choices = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="customfield_unique_key")
        ]

    def __str__(self) -> str:
        return self.label


class ImportJob(TenantModel):
    """One CSV file being imported: uploaded, mapped to fields, checked, then run in Celery.

    The file's text is kept (at most 10 MB) so the mapping, the preview, the check and the run
    all read the same rows. Rows are processed in batches; `processed_rows` moves after each
    committed batch, so a run interrupted by a worker crash resumes where it stopped. Row errors
    are kept up to a cap, with the number left out in `errors_omitted`.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        INTERACTIONS = "interactions", "Interactions and purchases"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        MAPPED = "mapped", "Mapped"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    file_name = models.CharField(max_length=255)
    csv_text = models.TextField()
    mapping = models.JSONField(default=dict, blank=True, help_text="CSV column -> field key")
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0, help_text="Rows skipped for errors")
    errors = models.JSONField(default=list, blank=True, help_text="[{row, field, message}]")
    errors_omitted = models.PositiveIntegerField(default=0)
    # The dry run over the whole file behind the preview's totals (see customers.imports).
    dry_run = models.JSONField(default=dict, blank=True)
    failure = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="importjob_org_created_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import of {self.file_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return min(100, self.processed_rows * 100 // self.total_rows)
