"""INSERT statements built from model instances, for the few writes the ORM cannot say in one statement
(an increment-upsert; several rows written together in one round trip).

The column list and every value come from the model, prepared as Model.save() would prepare them
(pre_save signals, field defaults, auto_now, JSON and time zone adaptation), so a field added to a
model needs no change here. An InsertPlan does that once, for its template row; its varying fields are
then prepared for each row, without signals. Only quoted names from the model and the caller's SQL expressions go
into the text; every value is a parameter.
"""

import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.signals import pre_save


def insert_sql(
    obj: Model,
    *,
    select_from: str = "",
    exprs: dict[str, str] | None = None,
    expr_params: dict[str, list] | None = None,
    on_conflict: str = "",
    returning: str = "",
) -> tuple[str, list]:
    """`INSERT INTO <table> (<columns>) VALUES (…)` for obj, or `… SELECT … FROM <select_from>`.

    exprs maps a field's attname to SQL written in place of its value (e.g. "sub.id" from the
    select_from source), with expr_params[attname] as that SQL's own parameters. An auto-increment
    primary key left unset is left to the database.
    """
    sql, params, _ = _insert(obj, select_from, exprs or {}, expr_params or {}, on_conflict, returning)
    return sql, params


class InsertPlan:
    """insert_sql() worked out once for a kind of row: the text, and the values every such row shares,
    prepared once. Each row then prepares only the fields named as varying.

    A field Model.save() would fill in afresh for each row (auto_now, auto_now_add, a default computed
    by a function, such as a primary key's uuid4) must be named as varying or as an expression, or the
    plan refuses to be made.
    """

    def __init__(self, template: Model, *, varying: set[str], **insert_args):
        exprs = insert_args.get("exprs", {})
        fresh = {
            f.attname
            for f in template._meta.local_concrete_fields
            if getattr(f, "auto_now", False)
            or getattr(f, "auto_now_add", False)
            or (f.primary_key and f.has_default())
        }
        if missing := fresh - varying - set(exprs):
            raise ValueError(f"{sorted(missing)} differ in every row: name them as varying")
        self.sql, self._shared, fields = _insert(
            template,
            insert_args.get("select_from", ""),
            exprs,
            insert_args.get("expr_params", {}),
            insert_args.get("on_conflict", ""),
            insert_args.get("returning", ""),
        )
        self._varying = [(i, f) for i, f in enumerate(fields) if f is not None and f.attname in varying]
        if missing := varying - {f.attname for _, f in self._varying}:
            raise ValueError(f"{sorted(missing)} have no value in the template")

    def params(self, source: Model | None = None, **values) -> list:
        """The statement's values for one row: the varying ones from source's fields or from values."""
        db = connections[DEFAULT_DB_ALIAS]
        params = list(self._shared)
        for position, field in self._varying:
            value = values[field.attname] if field.attname in values else getattr(source, field.attname)
            params[position] = field.get_db_prep_save(value, db)
        return params


def _insert(obj, select_from, exprs, expr_params, on_conflict, returning) -> tuple[str, list, list]:
    """The text, the values, and for each value the field it is (None for an expression's own)."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: each value's preparation asks it things
    if pre_save.has_listeners(type(obj)):
        pre_save.send(sender=type(obj), instance=obj, raw=False, using=db.alias, update_fields=None)
    columns: list[str] = []
    values: list[str] = []
    params: list = []
    fields: list = []
    for field, column in _columns(type(obj)):
        if field.primary_key and getattr(obj, field.attname) is None:
            continue
        columns.append(column)
        if field.attname in exprs:
            values.append(exprs[field.attname])
            params.extend(expr_params.get(field.attname, []))
            fields.extend([None] * len(expr_params.get(field.attname, [])))
            continue
        value = field.get_db_prep_save(field.pre_save(obj, add=True), db)
        if value is None:
            values.append("NULL")  # fewer parameters: the driver caches the parsing of short statements
        else:
            values.append("%s")
            params.append(value)
            fields.append(field)
    table = db.ops.quote_name(obj._meta.db_table)
    listed = ", ".join(values)
    source = f"SELECT {listed} FROM {select_from}" if select_from else f"VALUES ({listed})"  # noqa: S608
    sql = f"INSERT INTO {table} ({', '.join(columns)}) {source}"
    if on_conflict:
        sql += f" {on_conflict}"
    if returning:
        sql += f" RETURNING {returning}"
    return sql, params, fields


@functools.cache
def _columns(model) -> list[tuple]:
    quote = connection.ops.quote_name
    return [(field, quote(field.column)) for field in model._meta.local_concrete_fields]


def increment_on_conflict(model, *, key: list[str], field: str = "count") -> str:
    """`ON CONFLICT (key) DO UPDATE SET field = field + the new row's field`: a counter's upsert."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    column = quote(meta.get_field(field).column)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in key)
    return f"ON CONFLICT ({conflict}) DO UPDATE SET {column} = {table}.{column} + excluded.{column}"
