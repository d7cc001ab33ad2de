"""Business actions on interactions, purchases, returns, products, service cases and tasks.

Every function takes the organization and the acting user explicitly (keyword-only), validates
its input (ValidationError naming the field), writes in one transaction and records the audit
trail. Changes to a case are also written to the customer's timeline as `case_update`
interactions, so whoever opens the customer sees them.
"""

from interactions.services.cases import (
    CASE_EDITABLE_FIELDS,
    case_assign,
    case_change_status,
    case_due_hours,
    case_open,
    case_update,
)
from interactions.services.events import (
    PurchaseLineInput,
    ReturnLineInput,
    interaction_log,
    purchase_record,
    return_record,
)
from interactions.services.products import PRODUCT_FIELDS, product_create, product_update
from interactions.services.tasks import (
    TASK_EDITABLE_FIELDS,
    task_complete,
    task_create,
    task_delete,
    task_may_delete,
    task_reopen,
    task_update,
)

__all__ = [
    "CASE_EDITABLE_FIELDS",
    "PRODUCT_FIELDS",
    "TASK_EDITABLE_FIELDS",
    "PurchaseLineInput",
    "ReturnLineInput",
    "case_assign",
    "case_change_status",
    "case_due_hours",
    "case_open",
    "case_update",
    "interaction_log",
    "product_create",
    "product_update",
    "purchase_record",
    "return_record",
    "task_complete",
    "task_create",
    "task_delete",
    "task_may_delete",
    "task_reopen",
    "task_update",
]
