"""The rooms of orders hold: no import cycle among its modules (imports inside functions
count), and the core never reaches the automation wing, the API or the pages.

grimp reads the source (every `import` statement, wherever it stands), so a cycle hidden
in a function body fails here as it would fail a reader.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("orders", cache_dir=None)


def _orders_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == "orders" or m.startswith("orders."))


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    """Each direct import a → b of orders whose target leads back to a."""
    found = []
    for importer in _orders_modules(graph):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.startswith("orders") and graph.find_shortest_chain(
                importer=imported, imported=importer
            ):
                found.append((importer, imported))
    return found


def test_the_graph_sees_the_orders_modules(graph):
    # Given the orders package as grimp reads it from the source tree
    modules = _orders_modules(graph)

    # Then it holds the core and the automation wing, and their known imports
    assert "orders.core.lifecycle" in modules
    assert "orders.automation.contingent" in modules
    assert "orders.core.lifecycle" in graph.find_modules_directly_imported_by(
        "orders.automation.contingent"
    )
    assert (ROOT / "orders" / "core" / "lifecycle.py").exists()


def test_no_import_cycle_among_the_modules_of_orders(graph):
    # When every import of every orders module is followed (function bodies included)
    cycles = _cycles(graph)

    # Then no module is reached back from what it imports
    assert cycles == [], "import cycles in orders: " + ", ".join(f"{a} -> {b}" for a, b in cycles)


@pytest.mark.parametrize(
    "forbidden", ["orders.automation", "orders.api", "orders.pages", "orders.services"]
)
def test_the_core_never_imports_automation_api_or_pages(graph, forbidden):
    # When we look for any chain of imports from the core to a room above it
    chains = graph.find_illegal_dependencies_for_layers(
        layers=(forbidden, "orders.core"), containers=set()
    )

    # Then there is none
    assert not chains, f"orders.core reaches {forbidden}: {chains}"


def test_a_cycle_or_an_upward_import_would_be_found():
    # Given a graph with a cycle hidden in a function body and a core module importing
    # the automation wing (the situation the checks above guard against)
    graph = grimp.ImportGraph()
    for module in ("orders", "orders.core", "orders.core.a", "orders.core.b", "orders.automation"):
        graph.add_module(module)
    graph.add_import(importer="orders.core.a", imported="orders.core.b")
    graph.add_import(importer="orders.core.b", imported="orders.core.a")
    graph.add_import(importer="orders.core.b", imported="orders.automation")

    # Then both are reported
    assert ("orders.core.a", "orders.core.b") in _cycles(graph)
    assert graph.find_illegal_dependencies_for_layers(
        layers=("orders.automation", "orders.core"), containers=set()
    )
