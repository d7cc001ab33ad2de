"""Interactions URLs, mounted at the organization's root (/<org_slug>/...)."""

from django.urls import URLPattern, URLResolver, path

from interactions import exports
from interactions.views import cases, customer, products, tasks

app_name = "interactions"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "customers/<int:customer_pk>/timeline/",
        customer.customer_timeline,
        name="timeline",
    ),
    path(
        "customers/<int:customer_pk>/timeline.csv",
        exports.customer_timeline_csv,
        name="timeline_csv",
    ),
    path(
        "customers/<int:customer_pk>/key-facts/",
        customer.customer_key_facts,
        name="key_facts",
    ),
    path(
        "customers/<int:customer_pk>/interactions/new/",
        customer.interaction_new,
        name="interaction_new",
    ),
    path(
        "customers/<int:customer_pk>/purchases/new/",
        customer.purchase_new,
        name="purchase_new",
    ),
    path("customers/<int:customer_pk>/cases/new/", customer.case_new, name="case_new"),
    path("customers/<int:customer_pk>/tasks/new/", customer.task_new, name="task_new"),
    path("cases/", cases.queue, name="case_queue"),
    path("cases/<int:pk>/", cases.detail, name="case_detail"),
    path("cases/<int:pk>/assign/", cases.assign, name="case_assign"),
    path("cases/<int:pk>/status/", cases.change_status, name="case_status"),
    path("cases/<int:pk>/edit/", cases.edit, name="case_edit"),
    path("tasks/", tasks.task_list, name="my_tasks"),
    path("tasks/<int:pk>/edit/", tasks.task_edit, name="task_edit"),
    path("tasks/<int:pk>/delete/", tasks.task_delete, name="task_delete"),
    path("tasks/<int:pk>/done/", tasks.task_done, name="task_done"),
    path("tasks/<int:pk>/reopen/", tasks.task_reopen, name="task_reopen"),
    path("products/", products.product_index, name="products"),
    path("products/new/", products.product_new, name="product_new"),
    path("products/<int:pk>/edit/", products.product_edit, name="product_edit"),
]
