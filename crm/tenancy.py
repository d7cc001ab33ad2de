"""The tenant of the work in progress: a context variable set per request and per task.

The default manager of every tenant-owned model reads it and fails closed when it is unset;
crm.db sends it to PostgreSQL with every statement, where row-level security enforces it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class TenantNotSetError(RuntimeError):
    """A tenant-scoped query ran with no organization in context."""


@dataclass(frozen=True)
class TenantState:
    organization_id: int | None = None
    user_id: int | None = None


_NO_TENANT = TenantState()
_state: ContextVar[TenantState | None] = ContextVar("touchpoint_tenant", default=None)


def _current() -> TenantState:
    return _state.get() or _NO_TENANT


def current_organization_id() -> int | None:
    return _current().organization_id


def current_user_id() -> int | None:
    return _current().user_id


def require_organization_id() -> int:
    organization_id = _current().organization_id
    if organization_id is None:
        raise TenantNotSetError(
            "No organization is set for this query. Run it inside tenant_context(), "
            "or use the model's all_tenants manager for an explicit cross-tenant job."
        )
    return organization_id


@contextmanager
def tenant_context(
    organization_id: int | None = None, user_id: int | None = None
) -> Iterator[TenantState]:
    """Run the block as the given organization (and user); restores the previous state after."""
    state = TenantState(
        organization_id=int(organization_id) if organization_id is not None else None,
        user_id=int(user_id) if user_id is not None else None,
    )
    token = _state.set(state)
    try:
        yield state
    finally:
        _state.reset(token)


@contextmanager
def user_context(user_id: int | None) -> Iterator[TenantState]:
    """Keep the organization in context and set the user (for reading the user's memberships)."""
    with tenant_context(current_organization_id(), user_id) as state:
        yield state


def set_for_request(organization_id: int | None, user_id: int | None) -> None:
    """Set the tenant for the rest of a request; TenantMiddleware restores the state after it."""
    _state.set(TenantState(organization_id=organization_id, user_id=user_id))


def begin_request() -> object:
    return _state.set(TenantState())


def end_request(token: object) -> None:
    _state.reset(token)  # type: ignore[arg-type]
