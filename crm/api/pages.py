"""The API keys settings page: admins list, create (the key is shown once) and revoke keys."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from crm.api.services import NAME_MAX_LENGTH, api_key_create, api_key_revoke
from crm.models import ApiKey
from crm.permissions import requires
from crm.views.accounts import OrganizationRequest, add_service_errors

KEYS_PER_PAGE = 50


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        help_text="What will use it, e.g. Webshop or Call centre.",
    )
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ,
        help_text="Read only keys can list and fetch; read and write keys can also change data.",
    )


def render_api_keys(
    request: OrganizationRequest,
    *,
    form: ApiKeyForm | None = None,
    new_key: str = "",
    new_api_key: ApiKey | None = None,
    status: int = 200,
) -> HttpResponse:
    keys = ApiKey.objects.filter(organization=request.organization).select_related("created_by")
    page_obj = Paginator(keys, KEYS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form or ApiKeyForm(),
        "page_obj": page_obj,
        "keys": list(page_obj),
        "new_key": new_key,
        "new_api_key": new_api_key,
        "nav": "settings",
        "settings_nav": "api_keys",
    }
    return render(request, "crm/api_keys.html", context, status=status)


@requires("api_keys.manage")
def api_key_list(request: OrganizationRequest) -> HttpResponse:
    return render_api_keys(request)


@never_cache
@requires("api_keys.manage")
@require_POST
def api_key_new(request: OrganizationRequest) -> HttpResponse:
    """Create a key and show it on this answer only (it is not stored, so never shown again)."""
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            api_key, key = api_key_create(
                organization=request.organization,
                actor=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return render_api_keys(request, new_key=key, new_api_key=api_key, status=201)
    return render_api_keys(request, form=form, status=400)


@requires("api_keys.manage")
@require_POST
def api_key_revoke_view(request: OrganizationRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.filter(organization=request.organization), pk=pk)
    api_key_revoke(organization=request.organization, actor=request.user, api_key=api_key)
    messages.success(request, f"The API key “{api_key.name}” is revoked; it no longer works.")
    return redirect("api_keys", org_slug=request.organization.slug)
