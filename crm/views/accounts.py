"""Account pages: sign up, sign in (throttled), sign out, password reset; organization settings."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from crm import signin_throttle
from crm.forms import LoginForm, OrganizationForm, SignupForm
from crm.models import Membership, Organization, User
from crm.permissions import requires
from crm.selectors import first_organization_of_user
from crm.services import organization_create, organization_update, user_create


class OrganizationRequest(HttpRequest):
    """The request of an organization page, as TenantMiddleware leaves it (for type checking)."""

    user: User
    organization: Organization
    membership: Membership
    htmx: HtmxDetails


def add_service_errors(
    form: Any, error: ValidationError, field_names: dict[str, str] | None = None
) -> None:
    """Show a service's ValidationError on the form, mapping its field names to the form's."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    field_names = field_names or {}
    for name, errors in error.error_dict.items():
        field = field_names.get(name, name)
        form.add_error(field if field in form.fields else None, errors)


def safe_next_url(request: HttpRequest) -> str:
    """The `next` parameter if it points into this site, else ""."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    organization = first_organization_of_user(user=request.user)
    if organization is None:
        return redirect("signup")
    return redirect("org_home", org_slug=organization.slug)


@requires("organization.view")
def organization_home(request: OrganizationRequest) -> HttpResponse:
    return redirect("customers:list", org_slug=request.organization.slug)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    """Create an organization; an anonymous visitor also creates their account here."""
    signed_in = request.user.is_authenticated
    form = SignupForm(request.POST or None, include_user=not signed_in)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if signed_in:
                    user = request.user
                else:
                    user = user_create(
                        email=data["email"], password=data["password"], full_name=data["full_name"]
                    )
                organization = organization_create(
                    name=data["organization_name"],
                    timezone=data["timezone"],
                    currency=data["currency"],
                    owner=user,  # type: ignore[arg-type]
                )
        except ValidationError as error:
            add_service_errors(form, error, {"name": "organization_name"})
        else:
            if not signed_in:
                auth_login(request, user)  # type: ignore[arg-type]
            messages.success(request, f"Welcome to {organization.name}.")
            return redirect("org_home", org_slug=organization.slug)
    return render(request, "accounts/signup.html", {"form": form, "signed_in": signed_in})


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    """Sign in by e-mail and password, refused while the account or address is locked out."""
    next_url = safe_next_url(request)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        address = signin_throttle.client_address(request)
        until = signin_throttle.locked_until(email=email, address=address)
        if until is not None:
            signin_throttle.record_refused(email=email, address=address, until=until)
            form.add_error(None, signin_throttle.lockout_message(until))
            status = 429
        else:
            user = authenticate(request, email=email, password=form.cleaned_data["password"])
            if user is None:
                until = signin_throttle.record_failure(email=email, address=address)
                form.add_error(None, "The e-mail or password is not right.")
                if until is not None:
                    form.add_error(None, signin_throttle.lockout_message(until))
            else:
                signin_throttle.record_success(email=email)
                auth_login(request, user)
                return redirect(next_url or "home")
    return render(request, "accounts/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, "You have signed out.")
    return redirect(safe_next_url(request) or "login")


password_reset = auth_views.PasswordResetView.as_view(
    template_name="accounts/password_reset_form.html",
    email_template_name="registration/password_reset_email.txt",
    subject_template_name="registration/password_reset_subject.txt",
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html"
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


@requires("organization.manage")
def organization_settings(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    form = OrganizationForm.for_organization(organization, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization_update(organization=organization, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Organization settings saved.")
            return redirect("organization_settings", org_slug=organization.slug)
    return render(
        request,
        "crm/organization_settings.html",
        {"form": form, "nav": "settings", "settings_nav": "organization"},
    )
