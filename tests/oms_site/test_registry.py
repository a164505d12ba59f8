"""The one registry shape every app's hooks are built on (oms_site.registry)."""

from __future__ import annotations

import logging

import pytest

from oms_site.registry import LogAndContinue, Registry


def test_entries_come_back_in_registration_order():
    # Given three entries registered in turn
    registry: Registry[str] = Registry("thing")
    registry.register("b", "second")
    registry.register("a", "first")
    registry.register("c", "third")
    # Then they come back in that order, not sorted
    assert registry.keys() == ("b", "a", "c")
    assert registry.values() == ("second", "first", "third")
    assert registry.items() == (("b", "second"), ("a", "first"), ("c", "third"))
    assert len(registry) == 3 and "a" in registry and "z" not in registry


def test_registering_a_name_again_replaces_it_in_place():
    # Given two entries, when the first name is registered again (a second ready())
    registry: Registry[str] = Registry("thing")
    registry.register("a", "old")
    registry.register("b", "other")
    registry.register("a", "new")
    # Then there is still one "a", in its first place, with the new entry
    assert registry.items() == (("a", "new"), ("b", "other"))


def test_a_callable_can_be_its_own_key_so_registering_it_twice_is_a_no_op():
    registry: Registry = Registry("provider")

    def provider():
        return 1

    registry.register(provider, provider)
    registry.register(provider, provider)
    assert registry.values() == (provider,)


def test_get_names_the_registry_when_the_key_is_missing():
    registry: Registry[str] = Registry("broker adapter")
    registry.register("paper", "P")
    assert registry.get("paper") == "P"
    assert registry.get("kite", None) is None
    with pytest.raises(LookupError, match="no broker adapter registered for 'kite'"):
        registry.get("kite")


def test_unregister_removes_and_ignores_unknown_keys():
    registry: Registry[str] = Registry("thing")
    registry.register("a", "A")
    registry.unregister("a")
    registry.unregister("never-there")
    assert registry.items() == ()


def test_call_all_calls_each_in_order_with_the_same_arguments():
    seen: list[tuple[str, int, str]] = []
    registry: Registry = Registry("listener")
    registry.register("one", lambda n, *, tag: seen.append(("one", n, tag)))
    registry.register("two", lambda n, *, tag: seen.append(("two", n, tag)))
    registry.call_all(7, tag="x")
    assert seen == [("one", 7, "x"), ("two", 7, "x")]


def test_call_all_without_a_policy_stops_at_the_first_failure_and_names_it():
    # Given a failing entry between two good ones
    seen: list[str] = []
    registry: Registry = Registry("report sink")
    registry.register("first", lambda: seen.append("first"))
    registry.register("broken", lambda: 1 / 0)
    registry.register("last", lambda: seen.append("last"))
    # When all are called, then the error reaches the caller, noted with the entry
    with pytest.raises(ZeroDivisionError) as raised:
        registry.call_all()
    assert raised.value.__notes__ == ["raised by report sink 'broken'"]
    # And the entries after it did not run
    assert seen == ["first"]


def test_call_all_with_log_and_continue_logs_each_failure_and_runs_the_rest(caplog):
    # Given a failing entry before a good one, and a policy describing the call
    seen: list[str] = []
    registry: Registry = Registry("tick listener")
    registry.register("broken", lambda symbol: 1 / 0)
    registry.register("good", lambda symbol: seen.append(symbol))
    policy = LogAndContinue(
        logging.getLogger("test.registry"),
        "Listener %s failed on %s",
        describe=lambda symbol: (symbol,),
    )
    # When all are called
    with caplog.at_level(logging.ERROR, logger="test.registry"):
        registry.call_all("ACME", on_error=policy)
    # Then the good one ran and the failure was logged with its traceback and the call
    assert seen == ["ACME"]
    [record] = caplog.records
    assert record.getMessage() == "Listener broken failed on ACME"
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


def test_an_entry_registered_during_call_all_waits_for_the_next_round():
    seen: list[str] = []
    registry: Registry = Registry("listener")

    def first():
        seen.append("first")
        registry.register("late", lambda: seen.append("late"))

    registry.register("first", first)
    registry.call_all()
    assert seen == ["first"]
    registry.call_all()
    assert seen == ["first", "first", "late"]


def test_overridden_holds_only_the_given_entries_and_restores_after_an_error():
    registry: Registry[str] = Registry("thing")
    registry.register("app", "A")
    with pytest.raises(RuntimeError), registry.overridden({"test": "T"}):
        assert registry.items() == (("test", "T"),)
        raise RuntimeError("the test failed")
    assert registry.items() == (("app", "A"),)


def test_snapshot_and_restore_round_trip():
    registry: Registry[str] = Registry("thing")
    registry.register("a", "A")
    saved = registry.snapshot()
    registry.register("b", "B")
    saved["mutated"] = "not in the registry"
    assert registry.keys() == ("a", "b")
    registry.restore({"a": "A"})
    assert registry.items() == (("a", "A"),)
