"""Pages of the interactions app, one module per area."""
