"""Failed sign-ins are throttled per client address and per name, without locking owners out."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


class Clock:
    """time.time() under the test's control: allauth's windows and ours read it."""

    def __init__(self) -> None:
        self.now = time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", lambda: fake.now)
    return fake


def _from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def _sign_in(client: Client, login: str, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN, {"login": login, "password": password})


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_guessing_from_one_address_does_not_lock_the_owner_out_elsewhere(clock, trader):
    # Given an attacker who failed six times on the trader's name from one address
    attacker = _from(ATTACKER)
    for _ in range(6):
        assert not _signed_in(_sign_in(attacker, "trader1", "guess"))
    clock.advance(5)
    # When the owner signs in from their own address a few seconds later
    response = _sign_in(_from(OWNER), "trader1")
    # Then they are in
    assert _signed_in(response)


def test_the_guessing_address_is_stopped_on_that_name(clock, trader):
    # Given five failures on one name from one address
    attacker = _from(ATTACKER)
    for _ in range(5):
        _sign_in(attacker, "trader1", "guess")
    clock.advance(60)
    # When that address then tries the right password, it is still refused
    response = _sign_in(attacker, "trader1")
    assert not _signed_in(response)
    assert "Too many failed login attempts" in response.content.decode()
    # And five minutes later it may try again
    clock.advance(5 * 60)
    assert _signed_in(_sign_in(attacker, "trader1"))


def test_a_name_guessed_from_many_addresses_is_slowed_not_locked(clock, trader):
    # Given five failures on the trader's name, each from another address
    for n in range(5):
        _sign_in(_from(f"203.0.113.{n + 1}"), "trader1", "guess")
    # When the next attempt comes at once, even with the right password, it must wait
    owner = _from(OWNER)
    response = _sign_in(owner, "trader1")
    assert not _signed_in(response)
    assert "Wait a few seconds" in response.content.decode()
    # Then a few seconds later the owner is in
    clock.advance(4)
    assert _signed_in(_sign_in(owner, "trader1"))


def test_one_address_trying_many_names_is_throttled(clock):
    # Given one address that fails on a new name eight times a minute for four minutes
    # (under the per-minute limit of ten)
    UserFactory(username="victim")
    attacker = _from(ATTACKER)
    for minute in range(4):
        for n in range(8):
            _sign_in(attacker, f"name{minute}-{n}", "guess")
        clock.advance(61)
    # When it then tries a real name with the right password, it is refused for the hour
    response = _sign_in(attacker, "victim")
    assert not _signed_in(response)
    assert "Too many failed login attempts" in response.content.decode()
    # While another address signs in as usual
    assert _signed_in(_sign_in(_from(OWNER), "victim"))


def test_ten_failures_in_a_minute_stop_an_address(clock, trader):
    attacker = _from(ATTACKER)
    for n in range(10):
        _sign_in(attacker, f"name{n}", "guess")
    response = _sign_in(attacker, "trader1")
    assert not _signed_in(response)
    assert "Too many failed login attempts" in response.content.decode()
