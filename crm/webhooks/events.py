"""The events an endpoint can subscribe to (the names integrators see in `Touchpoint-Event`)."""

CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_MERGED = "customer.merged"
INTERACTION_CREATED = "interaction.created"
CASE_CREATED = "case.created"
CASE_UPDATED = "case.updated"
TASK_CREATED = "task.created"
TASK_COMPLETED = "task.completed"
# Sent only by the "Send test event" button, to one endpoint whatever it subscribes to.
TEST = "webhook.test"

EVENT_CHOICES: list[tuple[str, str]] = [
    (CUSTOMER_CREATED, "Customer created"),
    (CUSTOMER_UPDATED, "Customer updated"),
    (CUSTOMER_MERGED, "Customers merged"),
    (INTERACTION_CREATED, "Interaction logged (incl. purchases and returns)"),
    (CASE_CREATED, "Case opened"),
    (CASE_UPDATED, "Case updated (assignee, status or details)"),
    (TASK_CREATED, "Task created"),
    (TASK_COMPLETED, "Task completed"),
]
EVENTS = frozenset(name for name, _label in EVENT_CHOICES)
