"""Members of an organization: list, invite, change roles, (de)activate; accept an invitation."""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.forms import AcceptInvitationForm, InvitationForm, MemberRoleForm, assignable_role_choices
from crm.htmx import wants_partial
from crm.models import Invitation, Membership, User
from crm.permissions import Role, can_assign, organization_public, requires
from crm.views.accounts import OrganizationRequest, add_service_errors

MEMBERS_PER_PAGE = 25


@dataclass
class MemberRow:
    """One row of the members table and what the viewing member may do to it."""

    membership: Membership
    is_self: bool
    role_choices: list[tuple[str, str]] = field(default_factory=list)
    can_change_role: bool = False
    can_deactivate: bool = False
    can_reactivate: bool = False
    message: str = ""
    error: str = ""


def member_row(
    request: OrganizationRequest, membership: Membership, *, message: str = "", error: str = ""
) -> MemberRow:
    actor = request.membership
    row = MemberRow(
        membership=membership,
        is_self=membership.user_id == actor.user_id,
        message=message,
        error=error,
    )
    if actor.has_permission("members.manage") and can_assign(actor.role, membership.role):
        row.role_choices = assignable_role_choices(actor.role)
        row.can_change_role = membership.is_active
        row.can_deactivate = membership.is_active and not row.is_self
        row.can_reactivate = not membership.is_active
    return row


def render_members(
    request: OrganizationRequest, *, invite_form: InvitationForm | None = None, status: int = 200
) -> HttpResponse:
    organization = request.organization
    actor = request.membership
    can_manage = actor.has_permission("members.manage")
    members = selectors.member_list(organization=organization)
    page_obj = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    invitations = [
        {
            "invitation": invitation,
            "can_revoke": can_manage and can_assign(actor.role, invitation.role),
        }
        for invitation in selectors.pending_invitations(organization=organization)
    ]
    if can_manage and invite_form is None:
        invite_form = InvitationForm(actor_role=actor.role)
    context = {
        "rows": [member_row(request, membership) for membership in page_obj],
        "page_obj": page_obj,
        "invitations": invitations,
        "invite_form": invite_form,
        "can_manage": can_manage,
        "invitation_days": settings.INVITATION_MAX_AGE_DAYS,
        "nav": "settings",
        "settings_nav": "members",
    }
    return render(request, "crm/members.html", context, status=status)


@requires("members.view")
def member_list(request: OrganizationRequest) -> HttpResponse:
    return render_members(request)


@requires("members.manage")
@require_POST
def member_invite(request: OrganizationRequest) -> HttpResponse:
    form = InvitationForm(request.POST, actor_role=request.membership.role)
    if form.is_valid():
        try:
            invitation, _token = services.invitation_create(
                organization=request.organization,
                actor=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("members", org_slug=request.organization.slug)
    return render_members(request, invite_form=form)


def member_action_response(
    request: OrganizationRequest, membership: Membership, *, message: str = "", error: str = ""
) -> HttpResponse:
    """HTMX gets the member's row back (with the outcome in it); a plain POST a redirect."""
    if wants_partial(request):
        row = member_row(request, membership, message=message, error=error)
        context = {"row": row, "can_manage": True}
        return render(request, "crm/members.html#member_row", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("members", org_slug=request.organization.slug)


def get_membership(pk: int) -> Membership:
    """A membership of the current organization only (another tenant's id is a 404)."""
    return get_object_or_404(Membership.objects.select_related("user"), pk=pk)


@requires("members.manage")
@require_POST
def member_change_role(request: OrganizationRequest, pk: int) -> HttpResponse:
    membership = get_membership(pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return member_action_response(request, membership, error="Choose a valid role.")
    try:
        membership = services.membership_change_role(
            organization=request.organization,
            actor=request.user,
            membership=membership,
            role=form.cleaned_data["role"],
        )
    except ValidationError as error:
        return member_action_response(request, membership, error=" ".join(error.messages))
    name = membership.user.display_name
    return member_action_response(
        request, membership, message=f"{name} is now {membership.get_role_display()}."
    )


@requires("members.manage")
@require_POST
def member_deactivate(request: OrganizationRequest, pk: int) -> HttpResponse:
    membership = get_membership(pk)
    try:
        membership = services.membership_deactivate(
            organization=request.organization, actor=request.user, membership=membership
        )
    except ValidationError as error:
        return member_action_response(request, membership, error=" ".join(error.messages))
    return member_action_response(
        request, membership, message=f"{membership.user.display_name} was deactivated."
    )


@requires("members.manage")
@require_POST
def member_reactivate(request: OrganizationRequest, pk: int) -> HttpResponse:
    membership = get_membership(pk)
    try:
        membership = services.membership_reactivate(
            organization=request.organization, actor=request.user, membership=membership
        )
    except ValidationError as error:
        return member_action_response(request, membership, error=" ".join(error.messages))
    return member_action_response(
        request, membership, message=f"{membership.user.display_name} was reactivated."
    )


@requires("members.manage")
@require_POST
def invitation_revoke(request: OrganizationRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        services.invitation_revoke(
            organization=request.organization, actor=request.user, invitation=invitation
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("members", org_slug=request.organization.slug)


@organization_public
@sensitive_post_parameters("password")
@never_cache
def invitation_accept(request: OrganizationRequest, token: str) -> HttpResponse:
    """Join an organization from an invitation link; works for visitors who are not members.

    The organization comes from the URL and the invitation is looked up by its token's hash
    inside it, so a link never reaches another organization's invitation.
    """
    organization = request.organization
    invitation = selectors.invitation_by_token(organization=organization, token=token)
    context: dict[str, object] = {"invitation": invitation, "token": token}
    if invitation is None:
        context["problem"] = "This invitation link is not valid. Ask for a new invitation."
        return render(request, "crm/invitation_accept.html", context, status=404)
    problem = services.invitation_problem(invitation)
    if problem:
        context["problem"] = f"{problem} Ask {organization.name} for a new invitation."
        return render(request, "crm/invitation_accept.html", context, status=410)
    context["role_label"] = Role(invitation.role).label

    user = request.user
    if user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            context["state"] = "other_user"
            return render(request, "crm/invitation_accept.html", context)
        if request.method == "POST":
            try:
                return _accept(request, invitation, user)
            except ValidationError as error:
                context["problem"] = " ".join(error.messages)
                return render(request, "crm/invitation_accept.html", context, status=409)
        context["state"] = "join"
        return render(request, "crm/invitation_accept.html", context)

    if User.objects.filter(email__iexact=invitation.email).exists():
        context["state"] = "sign_in"
        context["login_url"] = reverse("login") + "?" + urlencode({"next": request.get_full_path()})
        return render(request, "crm/invitation_accept.html", context)

    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                new_user = services.user_create(
                    email=invitation.email,
                    password=form.cleaned_data["password"],
                    full_name=form.cleaned_data["full_name"],
                )
                response = _accept(request, invitation, new_user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return response
    context.update(state="create_account", form=form)
    return render(request, "crm/invitation_accept.html", context)


def _accept(request: OrganizationRequest, invitation: Invitation, user: User) -> HttpResponse:
    services.invitation_accept(invitation=invitation, user=user)
    if not request.user.is_authenticated:
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome to {request.organization.name}.")
    return redirect("org_home", org_slug=request.organization.slug)
