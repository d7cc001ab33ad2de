"""Tenancy: organizations, users, memberships, invitations, and the audit trail."""

import datetime
import zoneinfo
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone as dj_timezone

from crm import tenancy
from crm.permissions import Role, has_permission


class Organization(models.Model):
    """A tenant: a company using Touchpoint. Everything it owns carries its id."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> datetime.tzinfo:
        """The organization's time zone; UTC if its name is not one zoneinfo knows."""
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return datetime.UTC


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in, by e-mail. Belongs to organizations through memberships."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD: ClassVar[str] = "email"
    EMAIL_FIELD: ClassVar[str] = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class TenantManager(models.Manager["Any"]):
    """Filters by the organization in context and raises when there is none (fails closed)."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return super().get_queryset().filter(organization_id=tenancy.require_organization_id())


class TenantModel(models.Model):
    """Base of every tenant-owned model.

    `objects` is scoped to the current tenant; `all_tenants` is the one explicit way around it
    (PostgreSQL row-level security still applies to it).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantManager()
    all_tenants = models.Manager()  # noqa: DJ012 - managers belong with the base's field

    class Meta:
        abstract = True


class Membership(TenantModel):
    """A user's role in one organization. Deactivated members keep their history but lose access."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # membership_user_idx serves lookups by user
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_user_per_org"
            )
        ]
        indexes = [models.Index(fields=["user", "is_active"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"

    def has_permission(self, permission: str) -> bool:
        return self.is_active and has_permission(self.role, permission)


class Invitation(TenantModel):
    """An e-mailed offer to join an organization with a role; only the token's hash is stored."""

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "token_hash"], name="invitation_unique_token"
            )
        ]
        indexes = [models.Index(fields=["organization", "email"], name="invitation_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"

    @property
    def is_usable(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > dj_timezone.now()
        )


class AuditEntry(TenantModel):
    """One write made by staff: who, what, when, and the changed fields' before/after values.

    Append-only: the application's database role may insert and read these rows, never change
    or delete them.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "object_type", "object_id", "-created_at"],
                name="audit_object_idx",
            ),
            models.Index(fields=["organization", "-created_at"], name="audit_org_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class ApiKey(TenantModel):
    """A secret an integrator sends as `Authorization: Bearer <key>` to use the API.

    The key is shown once when created; only its SHA-256 is stored (the key has 256 random
    bits, so a fast hash is enough). The key names its organization (tp_<org id>_<secret>), so
    the lookup runs inside that tenant; the organization is never taken from anywhere else. A
    key acts as the member who created it, limited to its scope; revoked keys stop working.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        READ_WRITE = "read_write", "Read and write"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to spot it.")
    hashed_key = models.CharField(max_length=64)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "prefix"], name="apikey_unique_prefix")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE


class IdempotentRequest(TenantModel):
    """The first answer to a POST sent with an `Idempotency-Key` header, replayed on retries.

    The row is inserted before the request's work, in the same transaction, so a concurrent
    retry waits on the unique index and then sees the stored answer. Only successful answers
    are kept (an error writes nothing, so retrying it is safe). Rows older than
    IDEMPOTENCY_KEY_TTL_HOURS are pruned.
    """

    key = models.CharField(max_length=255)
    credential = models.CharField(max_length=64, help_text="api_key:<id> or user:<id>")
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_unique_key")
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="idempotency_created_idx")
        ]

    def __str__(self) -> str:
        return self.key
