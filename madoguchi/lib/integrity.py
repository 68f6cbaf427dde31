"""Every reference between organization-owned rows stays inside one organization.

Rows of an organization carry an `organization` foreign key (STYLE.md 4). When one such row refers to
another, both must belong to the same organization: a 米子市 procedure given a 鳥取市 所属 showed 鳥取市's
telephone number on 米子市's pages and e-mails. The database refuses such a write on SQLite and on
PostgreSQL alike, with BEFORE INSERT/UPDATE triggers built here from REFERENCES and AUDITED (installed by
the migration procedures/0003); the services check first and say why in Japanese (OtherOrganizationError).

Guarded: the row, its foreign key → the row it refers to, and what must agree
-----------------------------------------------------------------------------
- procedures.Procedure.department        → Department    the same organization
- procedures.Procedure.current_version   → FormVersion   a version of this very procedure
- procedures.FormVersion.procedure       → Procedure     the same organization
- procedures.ProcedureTemplate.procedure → Procedure     the same organization as the member that shared it
                                                         (when both are set: library templates have neither)
- submissions.Submission.form_version    → FormVersion   a version of the submission's procedure, and the
                                                         same organization
- submissions.Submission.procedure       → Procedure     the same organization: follows from the line above,
                                                         since a version has its procedure's organization,
                                                         so the resident's submit pays one look-up, not two
- submissions.StatusChange / Note / Attachment / AnswerRevision .submission → Submission   same organization
- submissions.StagedUpload / ExportFile .procedure → Procedure                          the same organization
- notifications.OutgoingEmail.submission → Submission    the same organization (when set)
- stats.DailyCount / StatusCount .procedure → Procedure  the same organization
- audit.AuditLog (object_type, object_id) → an object of a type in AUDITED: the same organization, when the
  entry has one and the object still exists (an entry may name an object deleted since). An organization's
  audit page labels its entries with the objects' titles and 受付番号, so an entry must not name another's.

And from the other side: the organization of a referenced row (and the procedure of a form version) cannot
change while a guarded row refers to it. Each check is one look-up by primary key; the other side's is one
by an indexed foreign key, made only when the organization actually changes.

Allowed to cross organizations, not guarded
-------------------------------------------
- procedures.Procedure.source_procedure: a prefecture distributes its procedure to its municipalities.
- procedures.Procedure.source_template, ProcedureTemplate.council: a council's template, copied by any member.
- organizations.Organization.prefecture, Council.secretariat, CouncilMembership: between organizations by
  their nature.
- References to users (Submission.assignee, Note.author, StatusChange.actor, ExportFile.requested_by,
  FormVersion.created_by, AuditLog.actor, ProcedureTemplate.shared_by): a user belongs to organizations
  through Membership, which may end while the history of what they did stays. The staff views offer as
  assignee only the organization's processors.
- accounts.Membership.departments (a membership's 所属, of its own organization): checked by the accounts
  service; not guarded here yet.
"""

# Every name in the SQL built here comes from the models' metadata, never from input.
# ruff: noqa: S608

from __future__ import annotations

import time
from dataclasses import dataclass

from django.apps import apps as global_apps
from django.db import OperationalError, transaction
from django.utils.translation import gettext_lazy as _


class OtherOrganizationError(ValueError):
    """A write would make a row refer to a row of another organization. str() is Japanese, fit to show."""


def check_same_organization(organization, *rows, message=None) -> None:
    """Raise OtherOrganizationError unless each row given (None is skipped) belongs to `organization`
    (an Organization or its id)."""
    organization_id = getattr(organization, "pk", organization)
    for row in rows:
        if row is not None and row.organization_id != organization_id:
            raise OtherOrganizationError(str(message or _("別の団体のデータは指定できません。")))


@dataclass(frozen=True)
class Reference:
    """A foreign key of an organization-owned row, and the pairs (field of the row, field of the row it
    refers to) that must be equal. "pk" names the primary key."""

    model: str
    field: str
    match: tuple[tuple[str, str], ...] = (("organization", "organization"),)


REFERENCES = (
    Reference("procedures.Procedure", "department"),
    Reference("procedures.Procedure", "current_version", match=(("pk", "procedure"),)),
    Reference("procedures.FormVersion", "procedure"),
    Reference("procedures.ProcedureTemplate", "procedure"),
    Reference(
        "submissions.Submission",
        "form_version",
        match=(("procedure", "procedure"), ("organization", "organization")),
    ),
    Reference("submissions.StatusChange", "submission"),
    Reference("submissions.Note", "submission"),
    Reference("submissions.Attachment", "submission"),
    Reference("submissions.AnswerRevision", "submission"),
    Reference("submissions.StagedUpload", "procedure"),
    Reference("submissions.ExportFile", "procedure"),
    Reference("notifications.OutgoingEmail", "submission"),
    Reference("stats.DailyCount", "procedure"),
    Reference("stats.StatusCount", "procedure"),
)

# Audit entries name their object by type and id, without a foreign key. For these types the object
# belongs to the entry's organization.
AUDITED = (
    "organizations.Department",
    "procedures.Procedure",
    "procedures.FormVersion",
    "submissions.Submission",
    "submissions.ExportFile",
)
AUDIT_LOG = "audit.AuditLog"
PREFIX = "integrity_"
REFUSED = "cross-organization reference refused"


def is_audited(obj) -> bool:
    return obj._meta.label in AUDITED


# The schema ----------------------------------------------------------------------------------------


@dataclass
class _Guard:
    name: str
    table: str
    column: str
    target: str
    target_pk: str
    pairs: list[tuple[str, str]]  # (column of the row, column of the row it refers to)
    may_be_null: list[str]  # columns of the row that skip the check when NULL
    watched: list[str]  # columns whose update is checked

    @property
    def message(self) -> str:
        # No quote in it: it goes into the SQL as a literal.
        agree = " and ".join(f"{self.target}.{theirs} = {self.table}.{mine}" for mine, theirs in self.pairs)
        return f"{REFUSED}: {self.table}.{self.column} must name a row with {agree}"


@dataclass
class _Owner:
    """A referenced table: the columns the guards compare, which cannot change while rows refer to it."""

    name: str
    table: str
    pk: str
    keys: list[str]
    referrers: list[tuple[str, str]]  # (table, foreign key column)

    @property
    def message(self) -> str:
        return f"{REFUSED}: {self.table}.{', '.join(self.keys)} cannot change while rows refer to it"


def _column(model, name: str) -> str:
    return model._meta.pk.column if name == "pk" else model._meta.get_field(name).column


def _guards(apps) -> list[_Guard]:
    guards = []
    for reference in REFERENCES:
        model = apps.get_model(reference.model)
        fk = model._meta.get_field(reference.field)
        target = fk.related_model
        pairs = [(_column(model, mine), _column(target, theirs)) for mine, theirs in reference.match]
        nullable = [fk.column] + [
            _column(model, mine)
            for mine, _ in reference.match
            if mine != "pk" and model._meta.get_field(mine).null
        ]
        pk = model._meta.pk.column
        guards.append(
            _Guard(
                name=f"{PREFIX}{model._meta.db_table}_{fk.column}",
                table=model._meta.db_table,
                column=fk.column,
                target=target._meta.db_table,
                target_pk=target._meta.pk.column,
                pairs=pairs,
                may_be_null=nullable,
                watched=[fk.column] + [mine for mine, _ in pairs if mine != pk],
            )
        )
    return guards


def _owners(guards: list[_Guard]) -> list[_Owner]:
    owners: dict[str, _Owner] = {}
    for guard in guards:
        owner = owners.setdefault(
            guard.target, _Owner(f"{PREFIX}{guard.target}_owner", guard.target, guard.target_pk, [], [])
        )
        owner.keys += [theirs for _, theirs in guard.pairs if theirs not in owner.keys]
        owner.referrers.append((guard.table, guard.column))
    return list(owners.values())


def _audited(apps) -> tuple[str, list[tuple[str, str, str]]]:
    """The audit table and, for each audited type, (object_type, table, primary key column)."""
    log = apps.get_model(AUDIT_LOG)._meta.db_table
    types = []
    for label in AUDITED:
        model = apps.get_model(label)
        types.append((model._meta.label_lower, model._meta.db_table, model._meta.pk.column))
    return log, types


AUDIT_MESSAGE = f"{REFUSED}: an audit entry names an object of another organization"
AUDIT_WATCHED = ["organization_id", "object_type", "object_id"]


@dataclass
class _Trigger:
    table: str
    name: str
    create: str
    drop: str


def _sqlite_triggers(apps, q) -> list[_Trigger]:
    """The triggers on SQLite: the check is the trigger's WHEN clause."""

    def both(table, name, watched, when, message):
        events = {"insert": "INSERT", "update": f"UPDATE OF {', '.join(q(c) for c in watched)}"}
        return [
            _Trigger(
                table,
                f"{name}_{suffix}",
                f"CREATE TRIGGER {q(name + '_' + suffix)} BEFORE {event} ON {q(table)} "
                f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END",
                f"DROP TRIGGER IF EXISTS {q(name + '_' + suffix)}",
            )
            for suffix, event in events.items()
        ]

    triggers = []
    guards = _guards(apps)
    for guard in guards:
        when = " AND ".join(
            [f"NEW.{q(c)} IS NOT NULL" for c in guard.may_be_null]
            + [
                f"NOT EXISTS (SELECT 1 FROM {q(guard.target)} t WHERE t.{q(guard.target_pk)} = NEW.{q(guard.column)}"
                + "".join(f" AND t.{q(theirs)} = NEW.{q(mine)}" for mine, theirs in guard.pairs)
                + ")"
            ]
        )
        triggers += both(guard.table, guard.name, guard.watched, when, guard.message)
    for owner in _owners(guards):
        changed = " OR ".join(f"OLD.{q(k)} IS NOT NEW.{q(k)}" for k in owner.keys)
        referred = " OR ".join(
            f"EXISTS (SELECT 1 FROM {q(table)} WHERE {q(column)} = OLD.{q(owner.pk)})"
            for table, column in owner.referrers
        )
        triggers.append(
            _Trigger(
                owner.table,
                owner.name,
                f"CREATE TRIGGER {q(owner.name)} BEFORE UPDATE OF {', '.join(q(k) for k in owner.keys)} "
                f"ON {q(owner.table)} WHEN ({changed}) AND ({referred}) "
                f"BEGIN SELECT RAISE(ABORT, '{owner.message}'); END",
                f"DROP TRIGGER IF EXISTS {q(owner.name)}",
            )
        )
    log, types = _audited(apps)
    # Only an id written as the primary key writes it (str(pk)) names an object.
    other = " OR ".join(
        f"(NEW.object_type = '{object_type}' AND EXISTS (SELECT 1 FROM {q(table)} t "
        f"WHERE t.{q(pk)} = CAST(NEW.object_id AS INTEGER) AND CAST(t.{q(pk)} AS TEXT) = NEW.object_id "
        f"AND t.organization_id <> NEW.organization_id))"
        for object_type, table, pk in types
    )
    triggers += both(
        log,
        f"{PREFIX}{log}_object",
        AUDIT_WATCHED,
        f"NEW.organization_id IS NOT NULL AND ({other})",
        AUDIT_MESSAGE,
    )
    return triggers


def _raise(message: str) -> str:
    return f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';"


def _function(name: str, body: str, declare: str = "") -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"{declare}BEGIN\n{body}\nEND\n$$"
    )


def _postgresql_triggers(apps, q) -> tuple[list[str], list[_Trigger], list[str]]:
    """(functions, triggers, statements dropping the functions) on PostgreSQL. Each function is PL/pgSQL
    with a static query, planned once per connection."""
    functions, triggers = [], []

    def add(table, name, body, events, *, when="", declare=""):
        functions.append(_function(q(name), body, declare))
        when = f" WHEN ({when})" if when else ""
        triggers.append(
            _Trigger(
                table,
                name,
                f"CREATE OR REPLACE TRIGGER {q(name)} BEFORE {events} ON {q(table)} "
                f"FOR EACH ROW{when} EXECUTE FUNCTION {q(name)}()",
                f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}",
            )
        )

    guards = _guards(apps)
    for guard in guards:
        refers = (
            f"SELECT 1 FROM {q(guard.target)} t WHERE t.{q(guard.target_pk)} = NEW.{q(guard.column)}"
            + "".join(f" AND t.{q(theirs)} = NEW.{q(mine)}" for mine, theirs in guard.pairs)
        )
        present = " AND ".join(f"NEW.{q(c)} IS NOT NULL" for c in guard.may_be_null)
        add(
            guard.table,
            guard.name,
            f"    IF {present} AND NOT EXISTS ({refers}) THEN\n        {_raise(guard.message)}\n"
            "    END IF;\n    RETURN NEW;",
            f"INSERT OR UPDATE OF {', '.join(q(c) for c in guard.watched)}",
        )
    for owner in _owners(guards):
        referred = " OR ".join(
            f"EXISTS (SELECT 1 FROM {q(table)} WHERE {q(column)} = OLD.{q(owner.pk)})"
            for table, column in owner.referrers
        )
        changed = " OR ".join(f"OLD.{q(k)} IS DISTINCT FROM NEW.{q(k)}" for k in owner.keys)
        add(
            owner.table,
            owner.name,
            f"    IF {referred} THEN\n        {_raise(owner.message)}\n    END IF;\n    RETURN NEW;",
            f"UPDATE OF {', '.join(q(k) for k in owner.keys)}",
            # Called only when a key actually changes: a save() that writes every column costs nothing.
            when=changed,
        )
    log, types = _audited(apps)
    lookups = "\n    ELS".join(
        f"IF NEW.object_type = '{object_type}' THEN\n"
        f"        SELECT t.organization_id INTO owner FROM {q(table)} t WHERE t.{q(pk)} = NEW.object_id::bigint;"
        for object_type, table, pk in types
    )
    add(
        log,
        f"{PREFIX}{log}_object",
        # Only an id written as the primary key writes it (str(pk)) names an object.
        "    IF NEW.organization_id IS NULL OR NEW.object_id !~ '^[1-9][0-9]{0,17}$' THEN\n"
        "        RETURN NEW;\n    END IF;\n"
        f"    {lookups}\n    ELSE\n        RETURN NEW;\n    END IF;\n"
        f"    IF owner IS NOT NULL AND owner <> NEW.organization_id THEN\n        {_raise(AUDIT_MESSAGE)}\n"
        "    END IF;\n    RETURN NEW;",
        f"INSERT OR UPDATE OF {', '.join(q(c) for c in AUDIT_WATCHED)}",
        declare="DECLARE owner bigint;\n",
    )
    drops = [f"DROP FUNCTION IF EXISTS {q(trigger.name)}()" for trigger in triggers]
    return functions, triggers, drops


def _by_table(triggers: list[_Trigger]) -> dict[str, list[_Trigger]]:
    tables: dict[str, list[_Trigger]] = {}
    for trigger in triggers:
        tables.setdefault(trigger.table, []).append(trigger)
    return tables


def install(schema_editor, apps=global_apps) -> None:
    """Create (or replace) every guard, then check the rows already stored.

    On PostgreSQL each table's triggers are created in a transaction of their own, waiting at most 3 s at
    a time for the table's lock: the migration never holds two tables' locks at once (no deadlock with a
    submission), and never makes the resident's submit queue behind it for long. Rows already stored that
    cross organizations make it fail, naming them, with the guards removed again: correct them and migrate
    again.
    """
    connection, q = schema_editor.connection, schema_editor.quote_name
    if connection.vendor == "postgresql":
        functions, triggers, _ = _postgresql_triggers(apps, q)
        with transaction.atomic(using=connection.alias):
            for sql in functions:
                schema_editor.execute(sql, None)
        for table_triggers in _by_table(triggers).values():
            _locking_briefly(schema_editor, [t.create for t in table_triggers])
    elif connection.vendor == "sqlite":
        with transaction.atomic(using=connection.alias):
            for trigger in _sqlite_triggers(apps, q):
                schema_editor.execute(trigger.drop, None)
                schema_editor.execute(trigger.create, None)
    else:
        raise NotImplementedError(f"no organization guards for {connection.vendor}")
    found = violations(connection, apps)
    if found:
        uninstall(schema_editor, apps)
        raise RuntimeError(
            "Rows refer to rows of another organization; correct them (e.g. a procedure's 担当所属 in "
            "/admin/) and migrate again:\n" + "\n".join(found)
        )


def uninstall(schema_editor, apps=global_apps) -> None:
    connection, q = schema_editor.connection, schema_editor.quote_name
    if connection.vendor == "postgresql":
        _, triggers, drops = _postgresql_triggers(apps, q)
        for table_triggers in _by_table(triggers).values():
            _locking_briefly(schema_editor, [t.drop for t in table_triggers])
        with transaction.atomic(using=connection.alias):
            for sql in drops:
                schema_editor.execute(sql, None)
    else:
        with transaction.atomic(using=connection.alias):
            for trigger in _sqlite_triggers(apps, q):
                schema_editor.execute(trigger.drop, None)


def _locking_briefly(schema_editor, statements, attempts: int = 20) -> None:
    alias = schema_editor.connection.alias
    for attempt in range(attempts):
        try:
            with transaction.atomic(using=alias):
                schema_editor.execute("SET LOCAL lock_timeout = '3s'", None)
                for sql in statements:
                    schema_editor.execute(sql, None)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)


def expected(connection, apps=global_apps) -> set[str]:
    """Names of the guard triggers that REFERENCES and AUDITED call for on this database."""
    q = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return {t.name for t in _postgresql_triggers(apps, q)[1]}
    return {t.name for t in _sqlite_triggers(apps, q)}


def installed(connection) -> set[str]:
    """Names of the guard triggers present in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s", [PREFIX + "%"]
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [PREFIX + "%"]
            )
        return {row[0] for row in cursor.fetchall()}


def violations(connection, apps=global_apps, limit: int = 10) -> list[str]:
    """Stored rows that cross organizations, as readable lines (at most `limit` per reference)."""
    q = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for guard in _guards(apps):
            present = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in guard.may_be_null)
            agree = " AND ".join(f"t.{q(theirs)} = c.{q(mine)}" for mine, theirs in guard.pairs)
            cursor.execute(
                f"SELECT c.{q('id')}, c.{q(guard.column)} FROM {q(guard.table)} c "
                f"JOIN {q(guard.target)} t ON t.{q(guard.target_pk)} = c.{q(guard.column)} "
                f"WHERE {present} AND NOT ({agree}) ORDER BY 1 LIMIT {int(limit)}"
            )
            found += [
                f"{guard.table} id {row_id}: {guard.column} = {target_id} ({guard.target} of another organization)"
                for row_id, target_id in cursor.fetchall()
            ]
        log, types = _audited(apps)
        for object_type, table, pk in types:
            cursor.execute(
                f"SELECT a.id, a.object_id FROM {q(log)} a JOIN {q(table)} t "
                f"ON CAST(t.{q(pk)} AS TEXT) = a.object_id WHERE a.object_type = %s "
                f"AND a.organization_id IS NOT NULL AND t.organization_id <> a.organization_id "
                f"ORDER BY 1 LIMIT {int(limit)}",
                [object_type],
            )
            found += [
                f"{log} id {row_id}: {object_type} {object_id} of another organization"
                for row_id, object_id in cursor.fetchall()
            ]
    return found
