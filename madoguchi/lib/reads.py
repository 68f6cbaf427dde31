"""One-row reads on a resident's every request, said in SQL worked out once per process.

For a read of one row and a few related ones, Django's ORM spends more CPU building and compiling the
query (about 1.3 ms for a procedure with its organization, department and form version on the bench
machine) than PostgreSQL spends answering it. A RowRead says the same SELECT as
`Model.objects.select_related(...).filter(...)`, its text made once from the models, and makes the same
instances the ORM makes: Model.from_db with each field's own conversion from the database (JSON,
and SQLite's dates and booleans), the related rows cached on their foreign keys (None for an empty one).
On PostgreSQL the statement is prepared where that pays (lib/prepared.py). Only exact matches on the
model's own fields and on those of a related row are offered.
"""

import functools

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from madoguchi.lib import prepared


class RowRead:
    def __init__(self, model: type[Model], related: tuple[str, ...] = ()):
        self.model = model
        self.related = related

    def get(self, **equals) -> Model | None:
        """The row (with its related rows) whose fields equal these values, e.g. pk=7 or
        organization__code="312011"; None if there is none. More than one is an error."""
        db = connections[DEFAULT_DB_ALIAS]
        select, parts = self._select(db.alias)
        conditions, params = [], []
        for lookup, value in equals.items():
            alias, field = self._where(db.alias, lookup)
            conditions.append(f"{alias}.{db.ops.quote_name(field.column)} = %s")
            params.append(field.get_db_prep_value(value, db, prepared=False))
        with prepared.cursor(db) as cursor:
            cursor.execute(f"{select} WHERE {' AND '.join(conditions)} LIMIT 2", params)
            rows = cursor.fetchall()
        if not rows:
            return None
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned(f"{self.model.__name__}: {sorted(equals)}")
        row = list(rows[0])
        instances = {}
        for name, model, attnames, start, end, converters in parts:
            for position, functions, column in converters:
                for convert in functions:
                    row[position] = convert(row[position], column, db)
            if name is not None and row[start] is None:  # an empty foreign key (LEFT JOIN found nothing)
                instances[name] = None
            else:
                instances[name] = model.from_db(db.alias, attnames, row[start:end])
        instance = instances.pop(None)
        for name, related in instances.items():
            setattr(instance, name, related)  # caches it, as select_related does
        return instance

    @functools.cache  # noqa: B019  (a RowRead lives as long as the process; one text per database)
    def _select(self, alias: str) -> tuple[str, list]:
        db = connections[alias]
        quote = db.ops.quote_name
        columns, joins, parts = [], [], []
        for number, name in enumerate((None, *self.related)):
            field = None if name is None else self.model._meta.get_field(name)
            model = self.model if field is None else field.related_model
            table = f"t{number}"
            fields = model._meta.concrete_fields
            start = len(columns)
            columns += [f"{table}.{quote(f.column)}" for f in fields]
            converters = []
            for position, f in enumerate(fields, start=start):
                column = f.get_col(table)
                functions = db.ops.get_db_converters(column) + column.get_db_converters(db)
                if functions:
                    converters.append((position, functions, column))
            parts.append((name, model, [f.attname for f in fields], start, len(columns), converters))
            if field is not None:
                joins.append(
                    f"LEFT JOIN {quote(model._meta.db_table)} {table} "
                    f"ON {table}.{quote(model._meta.pk.column)} = t0.{quote(field.column)}"
                )
        source = f"{quote(self.model._meta.db_table)} t0 {' '.join(joins)}"
        return f"SELECT {', '.join(columns)} FROM {source}", parts  # noqa: S608

    @functools.cache  # noqa: B019
    def _where(self, alias: str, lookup: str):
        """The table alias and field of `field` or `related__field`."""
        name, _, attribute = lookup.rpartition("__")
        if not name:
            return "t0", self.model._meta.pk if attribute == "pk" else self.model._meta.get_field(attribute)
        if name not in self.related:
            raise ValueError(f"{lookup}: {name} is not among the related rows read")
        model = self.model._meta.get_field(name).related_model
        field = model._meta.pk if attribute == "pk" else model._meta.get_field(attribute)
        return f"t{self.related.index(name) + 1}", field
