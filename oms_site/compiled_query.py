"""SELECTs built and compiled once, run many times with fresh parameter values.

Building a QuerySet and compiling it (cloning, resolving expressions, `as_sql`) costs more
CPU than the round trip of a small query: ~1 ms for the buying-power sum that every order
placement reads, against ~0.1 ms to run it. A `CompiledSelect` builds its QuerySet once per
database (with a sentinel value for each parameter), keeps the SQL, where each parameter
goes and Django's converters for the selected columns, and then only executes: the same
SQL, the same parameters as Django would prepare them, the same Python values back
(Decimal, UUID, datetime through Django's own converters), or the same model instances
(`instances`: `select_related` rows and annotations included, as Django's ModelIterable
builds them). A compiled `select_for_update` keeps Django's rule: only inside a transaction.

`insert_new` does the same for INSERTs of new rows (an order, its created event): the
statement is written once per model and database; each row's values are prepared as
Django's insert prepares them (`pre_save(add=True)`, then `get_db_prep_save`), so defaults,
auto_now timestamps, decimals and JSON go in exactly as `save(force_insert=True)` would put
them; `update_saved` the same for `save(update_fields=...)` of an order's transition. Only
for models that save the plain way: it refuses a model with its own `save`,
save signals, a database default or an inherited table, and a value that is an expression.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import Field, Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    positions: dict[str, tuple[int, ...]]  # parameter name → its places in `params`
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]  # (column, converters, expr)
    locking: bool  # SELECT ... FOR UPDATE
    model: type[Model] | None  # for `instances`: what ModelIterable would build
    model_columns: slice
    init_list: tuple[str, ...]
    related_populators: tuple[Any, ...]
    annotation_col_map: dict[str, int]


class CompiledSelect:
    """`build(**sentinels)` → the QuerySet (values_list rows); `fields[name]`: the model field
    whose database preparation a parameter gets (as the lookup on it would)."""

    def __init__(self, build: Callable[..., QuerySet], **fields: Field) -> None:
        self.build = build
        self.fields = fields
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def rows(self, *, using: str = "default", **values: Any) -> list[list[Any]]:
        """The selected columns of each row, converted as the QuerySet converts them."""
        return self._run(self._compiled_for(using), using, values)

    def instances(self, *, using: str = "default", **values: Any) -> list[Model]:
        """The model instances the QuerySet would give (select_related, annotations)."""
        compiled = self._compiled_for(using)
        if compiled.model is None:
            raise TypeError("instances() needs a QuerySet of model instances.")
        found = []
        for row in self._run(compiled, using, values):
            instance = compiled.model.from_db(
                using, compiled.init_list, row[compiled.model_columns]
            )
            for populator in compiled.related_populators:
                populator.populate(row, instance)
            for name, column in compiled.annotation_col_map.items():
                setattr(instance, name, row[column])
            found.append(instance)
        return found

    def _compiled_for(self, using: str) -> _Compiled:
        key = (using, connections[using].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        return compiled

    def _run(self, compiled: _Compiled, using: str, values: dict[str, Any]) -> list[list[Any]]:
        connection = connections[using]
        if compiled.locking and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(compiled.params)
        for name, places in compiled.positions.items():
            prepared = self.fields[name].get_db_prep_value(values[name], connection)
            for place in places:
                params[place] = prepared
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for column, converters, expression in compiled.converters:
            for row in rows:
                value = row[column]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[column] = value
        return rows

    def _compile(self, using: str) -> _Compiled:
        connection = connections[using]
        sentinels = {name: _sentinel(field) for name, field in self.fields.items()}
        queryset = self.build(**sentinels)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        positions = {}
        for name, field in self.fields.items():
            marker = field.get_db_prep_value(sentinels[name], connection)
            places = tuple(i for i, param in enumerate(params) if param == marker)
            if not places:
                raise ValueError(f"Parameter {name!r} does not reach the compiled SQL.")
            positions[name] = places
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = tuple(
            (column, tuple(funcs), expression)
            for column, (funcs, expression) in compiler.get_converters(columns).items()
        )
        klass_info = compiler.klass_info
        model, model_columns, init_list, populators = None, slice(0), (), ()
        if klass_info is not None:
            model = klass_info["model"]
            first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            model_columns = slice(first, last)
            init_list = tuple(f[0].target.attname for f in compiler.select[first:last])
            populators = tuple(get_related_populators(klass_info, compiler.select, using))
        return _Compiled(
            sql=sql,
            params=tuple(params),
            positions=positions,
            converters=converters,
            locking=queryset.query.select_for_update and connection.features.has_select_for_update,
            model=model,
            model_columns=model_columns,
            init_list=init_list,
            related_populators=populators,
            annotation_col_map=dict(compiler.annotation_col_map or {}),
        )


def _sentinel(field: Field) -> Any:
    """A value no real parameter has, of the field's type."""
    if field.get_internal_type() == "UUIDField":
        return uuid.uuid4()
    raise TypeError(f"No sentinel for a {field.get_internal_type()} parameter.")


_INSERTS: dict[tuple[type[Model], str, str], tuple[str, tuple[Field, ...]]] = {}


def insert_new(objs: list[Model], *, using: str = "default", keys: bool = True) -> None:
    """INSERT new instances of one model in one statement (`save(force_insert=True)` for
    one, `bulk_create` for several), through a statement written once. A model with an
    auto-increment key: one instance at a time, which gets its key as save() gives it —
    or, with `keys=False` (the caller never reads them), several, left without keys."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[using]
    key = (model, using, connection.vendor)
    compiled = _INSERTS.get(key)
    if compiled is None:
        compiled = _INSERTS[key] = _insert_statement(model, connection)
    head, fields = compiled
    auto_key = model._meta.auto_field
    if auto_key is not None and len(objs) > 1 and keys:
        raise TypeError(f"insert_new(): one {model.__name__} at a time (its auto key).")
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError("insert_new() takes instances of one model.")
        for field in fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{model.__name__}.{field.name}: an expression, not a value.")
            params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(head + ", ".join([row] * len(objs)), params)
        if auto_key is not None and len(objs) == 1:
            setattr(objs[0], auto_key.attname, cursor.lastrowid)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


_UPDATES: dict[tuple[type[Model], tuple[str, ...], str, str], tuple[str, tuple[Field, ...]]] = {}


def update_saved(obj: Model, *, fields: tuple[str, ...], using: str = "default") -> None:
    """`obj.save(update_fields=fields)` through a statement written once per field set."""
    model = type(obj)
    connection = connections[using]
    key = (model, fields, using, connection.vendor)
    compiled = _UPDATES.get(key)
    if compiled is None:
        compiled = _UPDATES[key] = _update_statement(model, fields, connection)
    sql, targets = compiled
    params: list[Any] = []
    for field in targets:
        value = field.pre_save(obj, False)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{model.__name__}.{field.name}: an expression, not a value.")
        params.append(field.get_db_prep_save(value, connection))
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:  # as save(update_fields=...) says it
            raise DatabaseError("Save with update_fields did not affect any rows.")


def _update_statement(
    model: type[Model], fields: tuple[str, ...], connection: Any
) -> tuple[str, tuple[Field, ...]]:
    _plain_saving(model)
    meta = model._meta
    targets = tuple(meta.get_field(name) for name in fields)
    if not targets or any(f.primary_key or not f.concrete for f in targets):
        raise TypeError(f"update_saved(): {model.__name__} fields {fields!r}.")
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in targets)
    # Identifiers from the model, quoted by the backend; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return sql, targets


def _plain_saving(model: type[Model]) -> None:
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{model.__name__} inherits a table: the ORM's save.")
    if (
        model.save is not Model.save
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
    ):
        raise TypeError(f"{model.__name__} saves its own way: the ORM's save.")


def _insert_statement(model: type[Model], connection: Any) -> tuple[str, tuple[Field, ...]]:
    _plain_saving(model)
    meta = model._meta
    fields = tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field)
    for field in fields:
        if field.has_db_default():
            raise TypeError(f"insert_new(): {model.__name__}.{field.name} has a db default.")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # Identifiers from the model, quoted by the backend; every value is a parameter.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ", fields  # noqa: S608
