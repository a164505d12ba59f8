"""Writes of strategies: create/update/delete, pause/resume, rotate the secret, and
receiving a signal (authenticate, read, refuse or store, enqueue the fan-out).

    strategy_create(*, user, name, accounts, **settings) -> IssuedStrategy(strategy, secret)
    strategy_update(*, user, strategy_id, **changes) -> Strategy
    strategy_delete(*, user, strategy_id) -> None
    strategy_set_paused(*, user, strategy_id, paused) -> Strategy
    strategy_rotate_secret(*, user, strategy_id) -> IssuedStrategy
    signal_authenticate(*, strategy_id, raw_body, signature) -> Strategy
    signal_receive(*, strategy, raw_body, now=None) -> SignalAnswer(status, body)

The fan-out itself is strategies/fanout.py (run on the queue).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.crypto import decrypt_credentials, encrypt_credentials
from accounts.models import User
from accounts.selectors import account_get_for_user
from marketdata.models import Instrument
from marketdata.selectors import instrument_get
from oms_site.api import error_body
from oms_site.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from oms_site.task_enqueue import enqueue_after_commit, task_named
from strategies.defaults import DefaultsError, defaults_parse
from strategies.models import DirectionMode, Signal, SignalStatus, Strategy, StrategyAccount
from strategies.selectors import strategy_get_for_user
from strategies.signal_input import body_load, signal_input_parse
from strategies.sizing import SizingRuleError, parse_rule

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
MAX_ACCOUNTS = 500
MAX_SYMBOL_MAPPINGS = 500


@dataclass(frozen=True, slots=True)
class IssuedStrategy:
    strategy: Strategy
    secret: str  # shown once


@dataclass(frozen=True, slots=True)
class SignalAnswer:
    status: int
    body: dict[str, Any]


# --- settings ------------------------------------------------------------------------------


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def _members(*, user: User, accounts: list[dict[str, Any]]) -> list[tuple[Any, dict]]:
    """(account, sizing JSON) for each entry; 400 naming the account the owner may not
    trade, or the bad sizing key."""
    if not accounts:
        raise _bad("accounts", "At least one account.")
    if len(accounts) > MAX_ACCOUNTS:
        raise _bad("accounts", f"At most {MAX_ACCOUNTS} accounts.")
    members, seen = [], set()
    for index, entry in enumerate(accounts):
        account_id = entry.get("account")
        try:
            account = account_get_for_user(user=user, account_id=account_id, level="trade")
        except (NotFound, PermissionDenied) as exc:
            raise _bad(
                f"accounts.{index}.account", f"You may not trade on account {account_id}."
            ) from exc
        if account.pk in seen:
            raise _bad(f"accounts.{index}.account", f"Account {account_id} is listed twice.")
        seen.add(account.pk)
        try:
            rule = parse_rule(entry.get("sizing"))
        except SizingRuleError as exc:
            raise _bad(f"accounts.{index}.{exc.field}", exc.message) from exc
        members.append((account, rule.as_json()))
    return members


def _symbols(raw: dict[str, Any]) -> dict[str, str]:
    if len(raw) > MAX_SYMBOL_MAPPINGS:
        raise _bad("symbols", f"At most {MAX_SYMBOL_MAPPINGS} mappings.")
    out = {}
    for ticker, symbol in raw.items():
        if not ticker or len(ticker) > 64:
            raise _bad("symbols", "Alert tickers are 1 to 64 characters.")
        try:
            out[ticker] = instrument_get(symbol=str(symbol)).symbol
        except NotFound as exc:
            raise _bad(f"symbols.{ticker}", f"Unknown symbol {symbol!r}.") from exc
    return out


def _apply_settings(strategy: Strategy, values: dict[str, Any]) -> None:
    for name in (
        "name",
        "direction",
        "max_position",
        "window_start",
        "window_end",
        "auto_exit",
        "rate_limit_per_minute",
        "replay_window_seconds",
    ):
        if name in values:
            setattr(strategy, name, values[name])
    if "defaults" in values:
        try:
            strategy.defaults = defaults_parse(values["defaults"]).as_json()
        except DefaultsError as exc:
            raise _bad(exc.field, exc.message) from exc
    if "symbols" in values:
        strategy.symbols = _symbols(values["symbols"] or {})
    if strategy.direction not in DirectionMode.values:
        raise _bad("direction", f"One of {', '.join(DirectionMode.values)}.")
    if (strategy.window_start is None) != (strategy.window_end is None):
        raise _bad("window_end", "Give both window_start and window_end, or neither.")
    if strategy.auto_exit and not strategy.has_window:
        raise _bad("auto_exit", "Auto-exit needs a trading window.")


def _replace_members(strategy: Strategy, members: list[tuple[Any, dict]]) -> None:
    StrategyAccount.objects.filter(strategy=strategy).delete()
    StrategyAccount.objects.bulk_create(
        StrategyAccount(strategy=strategy, account=account, sizing=sizing, position=index)
        for index, (account, sizing) in enumerate(members)
    )


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return secret, encrypt_credentials({"secret": secret})


@transaction.atomic
def strategy_create(
    *, user: User, name: str, accounts: list[dict[str, Any]], **values: Any
) -> IssuedStrategy:
    members = _members(user=user, accounts=accounts)
    secret, encrypted = _new_secret()
    strategy = Strategy(owner=user, name=name, secret_encrypted=encrypted)
    _apply_settings(strategy, values)
    strategy.save(force_insert=True)
    _replace_members(strategy, members)
    logger.info("strategy %s created by %s", strategy.pk, user.pk)
    return IssuedStrategy(strategy=strategy, secret=secret)


@transaction.atomic
def strategy_update(*, user: User, strategy_id: object, **values: Any) -> Strategy:
    strategy = strategy_get_for_user(user=user, strategy_id=strategy_id, for_update=True)
    members = None
    if values.get("accounts") is not None:
        members = _members(user=user, accounts=values.pop("accounts"))
    values.pop("accounts", None)
    _apply_settings(strategy, values)
    strategy.updated_at = timezone.now()
    strategy.save()
    if members is not None:
        _replace_members(strategy, members)
    return strategy


@transaction.atomic
def strategy_delete(*, user: User, strategy_id: object) -> None:
    """Soft delete: the signal log and the orders' links stay; the webhook answers 404."""
    strategy = strategy_get_for_user(user=user, strategy_id=strategy_id, for_update=True)
    strategy.deleted_at = strategy.updated_at = timezone.now()
    strategy.save(update_fields=["deleted_at", "updated_at"])


@transaction.atomic
def strategy_set_paused(*, user: User, strategy_id: object, paused: bool) -> Strategy:
    strategy = strategy_get_for_user(user=user, strategy_id=strategy_id, for_update=True)
    strategy.paused = paused
    strategy.updated_at = timezone.now()
    strategy.save(update_fields=["paused", "updated_at"])
    logger.info("strategy %s %s by %s", strategy.pk, "paused" if paused else "resumed", user.pk)
    return strategy


@transaction.atomic
def strategy_rotate_secret(*, user: User, strategy_id: object) -> IssuedStrategy:
    strategy = strategy_get_for_user(user=user, strategy_id=strategy_id, for_update=True)
    secret, strategy.secret_encrypted = _new_secret()
    strategy.updated_at = timezone.now()
    strategy.save(update_fields=["secret_encrypted", "updated_at"])
    logger.info("strategy %s: secret rotated by %s", strategy.pk, user.pk)
    return IssuedStrategy(strategy=strategy, secret=secret)


# --- receiving a signal --------------------------------------------------------------------


def signature_for(*, secret: str, raw_body: bytes) -> str:
    """The X-Signature a sender computes: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def signal_authenticate(*, strategy_id: object, raw_body: bytes, signature: str | None) -> Strategy:
    """The strategy whose secret signed this body: X-Signature, else the body's "secret".
    Unknown strategy → 404; a bad or missing signature → 401, counted and logged."""
    try:
        strategy = Strategy.objects.select_related("owner").get(
            pk=strategy_id, deleted_at__isnull=True
        )
    except (Strategy.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("No such strategy.") from exc  # a malformed id is as unknown
    secret = decrypt_credentials(strategy.secret_encrypted)["secret"]
    if signature is not None:
        # Bytes, not str: compare_digest refuses non-ASCII text (a TypeError, i.e. a 500).
        ok = hmac.compare_digest(
            signature.strip().lower().encode(),
            signature_for(secret=secret, raw_body=raw_body).encode(),
        )
    else:
        given = body_load(raw_body).get("secret")
        ok = isinstance(given, str) and hmac.compare_digest(given.encode(), secret.encode())
    if not ok:
        Strategy.objects.filter(pk=strategy.pk).update(auth_failures=F("auth_failures") + 1)
        logger.warning(
            "signal for strategy %s refused: %s",
            strategy.pk,
            "bad X-Signature" if signature is not None else "missing or wrong secret",
        )
        raise NotAuthenticated(
            "The signal's X-Signature (HMAC-SHA256 of the body) or secret is not valid."
        )
    return strategy


def _our_symbol(strategy: Strategy, ticker: str) -> Instrument:
    """The alert's ticker mapped to our instrument; a ticker that is not mapped may still
    name one of our instruments directly."""
    mapped = (strategy.symbols or {}).get(ticker, ticker)
    try:
        return instrument_get(symbol=mapped)
    except NotFound as exc:
        raise _bad("symbol", f"{ticker!r} is not mapped to an instrument.") from exc


def in_window(*, start: time, end: time, tz: str, at: datetime) -> bool:
    """Whether `at` is within [start, end) in the exchange's time zone (wraps midnight)."""
    local = at.astimezone(ZoneInfo(tz)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _refusal(strategy: Strategy, now: datetime, instrument: Instrument) -> str | None:
    if strategy.paused:
        return "The strategy is paused."
    if strategy.has_window and not in_window(
        start=strategy.window_start,
        end=strategy.window_end,
        tz=instrument.exchange.timezone,
        at=now,
    ):
        return (
            f"Outside the strategy's trading window {strategy.window_start:%H:%M}–"
            f"{strategy.window_end:%H:%M} ({instrument.exchange.timezone})."
        )
    return None


def _replay(strategy: Strategy, sender_id: str | None) -> SignalAnswer | None:
    if sender_id is None:
        return None
    first = Signal.objects.filter(strategy=strategy, sender_id=sender_id).first()
    if first is None:
        return None
    # API.md: a replayed id → 200 with the first answer, whatever that answer was (a
    # refused one too: the sender asked already and nothing is done again).
    return SignalAnswer(200, first.answer_body)


def _check_rate(strategy: Strategy, now: datetime) -> None:
    limit = strategy.rate_limit_per_minute
    if not limit:
        return
    recent = Signal.objects.filter(
        strategy=strategy, received_at__gt=now - timedelta(minutes=1)
    ).count()
    if recent >= limit:
        logger.warning("signal for strategy %s refused: rate limit %s/min", strategy.pk, limit)
        raise RateLimited(f"The strategy takes at most {limit} signals a minute.")


def signal_receive(
    *, strategy: Strategy, raw_body: bytes, now: datetime | None = None
) -> SignalAnswer:
    """Read, refuse or store one authenticated signal; the fan-out runs after commit.

    400 malformed or unmapped; an `id` seen before → 200 with its first answer; a `ts`
    outside the replay window → 409 conflict; over the rate limit → 429 (none stored);
    paused or outside the trading window → stored as refused, 409 invalid_state."""
    now = now or timezone.now()
    data = body_load(raw_body)
    signal_in = signal_input_parse(data)
    instrument = _our_symbol(strategy, signal_in.symbol)
    replayed = _replay(strategy, signal_in.sender_id)
    if replayed is not None:
        return replayed
    window = timedelta(seconds=strategy.replay_window_seconds)
    if signal_in.ts is not None and abs(now - signal_in.ts) > window:
        logger.warning("signal for strategy %s refused: stale ts %s", strategy.pk, signal_in.ts)
        raise Conflict(
            f"ts {signal_in.ts.isoformat()} is outside the replay window of "
            f"{strategy.replay_window_seconds} s.",
            fields={"ts": ["Outside the replay window."]},
        )
    _check_rate(strategy, now)
    body = {key: value for key, value in data.items() if key != "secret"}
    body = _json_ready(body)
    refusal = _refusal(strategy, now, instrument)
    try:
        with transaction.atomic():
            signal = Signal(
                strategy=strategy,
                received_at=now,
                body=body,
                sender_id=signal_in.sender_id,
                status=SignalStatus.REFUSED if refusal else SignalStatus.ACCEPTED,
                reason=refusal or "",
            )
            if refusal:
                signal.answer_status = 409
                signal.answer_body = error_body("invalid_state", refusal, signal_id=str(signal.pk))
                signal.done_at = now
                logger.warning(
                    "signal %s of strategy %s refused: %s", signal.pk, strategy.pk, refusal
                )
            else:
                signal.answer_body = {"signal_id": str(signal.pk), "status": "accepted"}
            signal.save(force_insert=True)
    except IntegrityError:
        # The same sender id raced in: the first one's answer.
        replayed = _replay(strategy, signal_in.sender_id)
        if replayed is None:
            raise
        return replayed
    if not refusal:
        enqueue_fan_out(signal.pk)
    return SignalAnswer(signal.answer_status, signal.answer_body)


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def enqueue_fan_out(signal_id: object, account_ids: list[str] | None = None) -> None:
    """After commit: the signal's fan-out (or the part for `account_ids`) to the queue."""
    signal_fan_out_task = task_named("strategies.signal_fan_out")
    signal_id = str(signal_id)
    enqueue_after_commit(
        lambda: signal_fan_out_task.delay(signal_id, account_ids=account_ids),
        what=f"signal {signal_id}" + (" (a part)" if account_ids else ""),
        recovery="the accepted-signal sweeper fans it out",
    )


def fan_out_chunk_size() -> int:
    """Accounts per fan-out task (OMS_SIGNAL_FANOUT_CHUNK, default 10): a strategy with more
    accounts is split into tasks that several workers run side by side."""
    return max(1, int(getattr(settings, "OMS_SIGNAL_FANOUT_CHUNK", 10)))


def enqueue_fan_out_chunks(*, signal_id: object, account_ids: list[str]) -> None:
    """After commit: one fan-out task per chunk of `account_ids`."""
    chunk = fan_out_chunk_size()
    for start in range(0, len(account_ids), chunk):
        enqueue_fan_out(signal_id, account_ids[start : start + chunk])
