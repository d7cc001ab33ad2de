"""The product catalog: everyone may look it up, leads maintain it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from crm.htmx import wants_partial
from crm.permissions import requires
from interactions import services
from interactions.forms import ProductForm, apply_service_errors
from interactions.models import Product
from interactions.selectors import product_list
from interactions.views.common import OrgRequest, paginate

TEMPLATE = "interactions/product_list.html"


@requires("products.view")
@require_http_methods(["GET"])
def product_index(request: OrgRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page_obj = paginate(request, product_list(organization=request.organization, q=q))
    context = {
        "nav": "products",
        "q": q,
        "page_obj": page_obj,
        "query_string": f"q={q}" if q else "",
        "can_manage": request.membership.has_permission("products.manage"),
    }
    template = f"{TEMPLATE}#results" if wants_partial(request) else TEMPLATE
    return render(request, template, context)


def _product_form_page(
    request: OrgRequest, form: ProductForm, product: Product | None
) -> HttpResponse:
    return render(
        request,
        "interactions/product_form.html",
        {"nav": "products", "form": form, "product": product},
    )


@requires("products.manage")
@require_http_methods(["GET", "POST"])
def product_new(request: OrgRequest) -> HttpResponse:
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(
                organization=request.organization,
                actor=request.user,  # type: ignore[arg-type]
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Added {product.name}.")
            return redirect("interactions:products", org_slug=request.organization.slug)
    return _product_form_page(request, form, None)


@requires("products.manage")
@require_http_methods(["GET", "POST"])
def product_edit(request: OrgRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, organization=request.organization, pk=pk)
    initial = {name: getattr(product, name) for name in services.PRODUCT_FIELDS}
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {
            name: value for name, value in form.cleaned_data.items() if initial[name] != value
        }
        try:
            services.product_update(
                organization=request.organization,
                actor=request.user,  # type: ignore[arg-type]
                product=product,
                **changes,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Saved {product.name}.")
            return redirect("interactions:products", org_slug=request.organization.slug)
    return _product_form_page(request, form, product)
