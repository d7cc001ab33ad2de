"""The API under /api/v1/: one DefaultRouter collecting every app's viewsets, and the docs.

Each app's api/urls.py exposes `router` (a SimpleRouter whose registry is merged here) and
`urlpatterns` (extra paths, e.g. bulk endpoints, mounted before the router's).
"""

from django.urls import URLPattern, URLResolver, path, re_path
from rest_framework.routers import DefaultRouter

from crm.api.views import MemberViewSet, RedocView, SchemaView, SwaggerView, api_not_found
from customers.api import urls as customers_api
from interactions.api import urls as interactions_api

app_name = "api"

APP_URL_MODULES = [customers_api, interactions_api]

router = DefaultRouter()
router.register("members", MemberViewSet, basename="member")
for module in APP_URL_MODULES:
    router.registry.extend(module.router.registry)

urlpatterns: list[URLPattern | URLResolver] = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
]
for module in APP_URL_MODULES:
    urlpatterns += module.urlpatterns
urlpatterns += router.urls
urlpatterns.append(re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"))
