"""The organization's audit log: who changed what, when, with each field's before and after."""

import json
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from crm.forms import AuditFilterForm
from crm.models import AuditEntry
from crm.permissions import requires
from crm.selectors import audit_entries
from crm.views.accounts import OrganizationRequest

ENTRIES_PER_PAGE = 50
EMPTY = "—"


def display_value(value: Any) -> str:
    """A stored audit value as text (the template escapes it)."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(display_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class EntryRow:
    entry: AuditEntry
    changes: list[Change]


def entry_row(entry: AuditEntry) -> EntryRow:
    changes = []
    for name, values in (entry.changes or {}).items():
        before, after = values if isinstance(values, list) and len(values) == 2 else (None, values)
        changes.append(Change(name, display_value(before), display_value(after)))
    return EntryRow(entry=entry, changes=changes)


@requires("audit.view")
def audit_log(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    form = AuditFilterForm(request.GET or None, organization=organization)
    entries = audit_entries(organization=organization).none()
    if not form.is_bound:
        entries = audit_entries(organization=organization)
    elif form.is_valid():
        actor = form.cleaned_data["actor"]
        entries = audit_entries(
            organization=organization,
            object_type=form.cleaned_data["object_type"].strip() or None,
            object_id=form.cleaned_data["object_id"].strip() or None,
            actor_id=actor.pk if actor else None,
        )
    page_obj = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filtered = any(query.get(name) for name in ("object_type", "object_id", "actor"))
    context = {
        "form": form,
        "page_obj": page_obj,
        "rows": [entry_row(entry) for entry in page_obj],
        "query_string": query.urlencode(),
        "filtered": filtered,
        "nav": "settings",
        "settings_nav": "audit",
    }
    return render(request, "crm/audit_log.html", context)
