"""URLs of the API keys settings page, under /<org_slug>/settings/api-keys/."""

from django.urls import path

from crm.api import pages

urlpatterns = [
    path("", pages.api_key_list, name="api_keys"),
    path("new/", pages.api_key_new, name="api_key_create"),
    path("<int:pk>/revoke/", pages.api_key_revoke_view, name="api_key_revoke"),
]
