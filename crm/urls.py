"""URLs: account pages at the root, everything else under /<org_slug>/ (see TenantMiddleware)."""

from django.urls import URLPattern, URLResolver, include, path

from crm.views import accounts, audit, health, members

organization_patterns: list[URLPattern | URLResolver] = [
    path("", accounts.organization_home, name="org_home"),
    path("customers/", include("customers.urls")),
    path("", include("interactions.urls")),
    path("settings/members/", members.member_list, name="members"),
    path("settings/members/invite/", members.member_invite, name="member_invite"),
    path("settings/members/<int:pk>/role/", members.member_change_role, name="member_role"),
    path(
        "settings/members/<int:pk>/deactivate/",
        members.member_deactivate,
        name="member_deactivate",
    ),
    path(
        "settings/members/<int:pk>/reactivate/",
        members.member_reactivate,
        name="member_reactivate",
    ),
    path(
        "settings/invitations/<int:pk>/revoke/",
        members.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "settings/organization/",
        accounts.organization_settings,
        name="organization_settings",
    ),
    path("settings/audit/", audit.audit_log, name="audit_log"),
    path("settings/api-keys/", include("crm.api.page_urls")),
    path("settings/webhooks/", include("crm.webhooks.urls")),
    path("invitations/<str:token>/", members.invitation_accept, name="invitation_accept"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", include("crm.api.urls")),
    path("", accounts.home, name="home"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/login/", accounts.login, name="login"),
    path("accounts/logout/", accounts.logout, name="logout"),
    path("accounts/password-reset/", accounts.password_reset, name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        accounts.password_reset_done,
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        accounts.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        accounts.password_reset_complete,
        name="password_reset_complete",
    ),
    path("<slug:org_slug>/", include(organization_patterns)),
]
