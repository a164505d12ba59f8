"""The orders core: what every order goes through, knowing nothing of automation.

lifecycle (the state machine, audit events, replay) · placement + place (prepare, risk,
store, submit) · validation + risk (input checks, pre-trade risk) · submit + sweeps (to the
venue; the pending_new sweeper, expiry, the open's release) · reports (execution reports,
the one path from any venue) · modify + cancel · release (a held order goes live) ·
trigger_store (held orders' trigger rows) · selectors · serializers (the order's shape) ·
publish (order pushes) · jobs (`enqueue(name, ...)`: a task on commit) · hooks (how the
automation wing and other apps take part: change hooks, transition listeners, placement
extensions, cancel hooks, release guards, detail readers).

Import rule (pyproject.toml, tests/orders/test_import_structure.py): the core imports
orders.models, orders.triggers and the apps below orders, never orders.automation,
orders.api or orders.pages.
"""
