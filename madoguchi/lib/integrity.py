"""Every reference between organization-owned rows stays inside one organization.

Rows of an organization carry an `organization` foreign key (STYLE.md 4). When one such row refers to
another, both must belong to the same organization: a 米子市 procedure given a 鳥取市 所属 showed 鳥取市's
telephone number on 米子市's pages and e-mails. The database refuses such a write on SQLite and on
PostgreSQL alike, with triggers built here from REFERENCES and AUDITED (installed by the migrations
procedures/0003 and organizations/0002); the services check first and say why in Japanese
(OtherOrganizationError).

A referring row is checked by an AFTER INSERT / UPDATE OF trigger, which fails the statement that wrote
it. AFTER, not BEFORE: the day's and status counters are upserts, and an upsert that finds its row (every
submission but the first of a day) updates the count without calling any trigger.

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
- notifications.Message.submission      → Submission    the same organization
- notifications.EmailText.procedure     → Procedure     the same organization
- stats.DailyCount / MonthlyCount / StatusCount .procedure → Procedure  the same organization
- accounts.Membership.departments        → Department    the membership's organization (a table of pairs
                                                         with no organization of its own: a staff member's 所属)
- audit.AuditLog (object_type, object_id) → an object of a type in AUDITED: the same organization, when the
  entry has one and the object still exists (an entry may name an object deleted since). An organization's
  audit page labels its entries with the objects' titles and 受付番号, so an entry must not name another's.

And from the other side: the organization of a referenced row (and the procedure of a form version) cannot
change while a guarded row refers to it. Each check is one look-up by primary key (two for a table of
pairs); the other side's is one by an indexed foreign key, made only when the organization changes.

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
    """A foreign key (or many-to-many field) of an organization-owned row, and the pairs (field of the row,
    field of the row it refers to) that must be equal. "pk" names the primary key."""

    model: str
    field: str
    match: tuple[tuple[str, str], ...] = (("organization", "organization"),)


# Each migration installs the whole set of its time: a trigger is replaced whole, and the trigger of a
# referenced table lists every table that refers to it. A new reference makes a new set and a migration.
FIRST = (  # procedures/0003
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
# organizations/0002: a staff member's 所属 (Membership.departments, a table of pairs with no organization of
# its own: the membership's organization is compared with the department's).
WITH_MEMBERSHIP_DEPARTMENTS = (*FIRST, Reference("accounts.Membership", "departments"))
# notifications/0003: messages to the resident on a submission, and a procedure's own e-mail texts.
WITH_MESSAGES = (
    *WITH_MEMBERSHIP_DEPARTMENTS,
    Reference("notifications.Message", "submission"),
    Reference("notifications.EmailText", "procedure"),
)
# stats/0005: an indicator counts only its own organization's procedures; a 年度's row belongs to its indicator's
# organization.
WITH_INDICATORS = (
    *WITH_MESSAGES,
    Reference("stats.Indicator", "procedures"),
    Reference("stats.IndicatorYear", "indicator"),
)
# submissions/0012: a resident's 一時保存 and an e-mail address verification belong to their procedure's
# organization, and a draft's form is a version of its own procedure.
WITH_DRAFTS = (
    *WITH_INDICATORS,
    Reference(
        "submissions.SubmissionDraft",
        "form_version",
        match=(("procedure", "procedure"), ("organization", "organization")),
    ),
    Reference("submissions.SubmissionDraft", "procedure"),
    Reference("notifications.EmailVerification", "procedure"),
)
# stats/0006: the monthly counts, as the daily ones.
WITH_MONTHLY_COUNTS = (*WITH_DRAFTS, Reference("stats.MonthlyCount", "procedure"))
REFERENCES = WITH_MONTHLY_COUNTS

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
    pk: str
    column: str
    target: str
    target_pk: str
    pairs: list[tuple[str, str]]  # (column of the row, or of its source; column of the row it refers to)
    may_be_null: list[str]  # columns of the row that skip the check when NULL
    watched: list[str]  # columns whose update is checked
    # A many-to-many table's row compares the row it pairs (source table, its primary key, column naming it).
    source: tuple[str, str, str] | None = None

    @property
    def message(self) -> str:
        # No quote in it: it goes into the SQL as a literal.
        holder = self.source[0] if self.source else self.table
        agree = " and ".join(f"{self.target}.{theirs} = {holder}.{mine}" for mine, theirs in self.pairs)
        return f"{REFUSED}: {self.table}.{self.column} must name a row with {agree}"

    def exists(self, q, row: str) -> str:
        """SQL: the row it refers to exists and agrees (`row` names the row checked: NEW, or an alias)."""
        tables = f"{q(self.target)} t"
        conditions = [f"t.{q(self.target_pk)} = {row}.{q(self.column)}"]
        holder = row
        if self.source:
            table, pk, via = self.source
            tables += f", {q(table)} s"
            conditions.append(f"s.{q(pk)} = {row}.{q(via)}")
            holder = "s"
        conditions += [f"t.{q(theirs)} = {holder}.{q(mine)}" for mine, theirs in self.pairs]
        return f"SELECT 1 FROM {tables} WHERE {' AND '.join(conditions)}"


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


def _guards(apps, references) -> list[_Guard]:
    guards = []
    for reference in references:
        model = apps.get_model(reference.model)
        fk = model._meta.get_field(reference.field)
        target = fk.related_model
        if fk.many_to_many:
            guards.append(_pairs_guard(model, fk, reference))
            continue
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
                pk=pk,
                column=fk.column,
                target=target._meta.db_table,
                target_pk=target._meta.pk.column,
                pairs=pairs,
                may_be_null=nullable,
                watched=[fk.column] + [mine for mine, _ in pairs if mine != pk],
            )
        )
    return guards


def _pairs_guard(model, field, reference) -> _Guard:
    """The table of a many-to-many field: each pair's two rows agree."""
    through = field.remote_field.through
    target = field.related_model
    column, via = field.m2m_reverse_name(), field.m2m_column_name()
    return _Guard(
        name=f"{PREFIX}{through._meta.db_table}_{column}",
        table=through._meta.db_table,
        pk=through._meta.pk.column,
        column=column,
        target=target._meta.db_table,
        target_pk=target._meta.pk.column,
        pairs=[(_column(model, mine), _column(target, theirs)) for mine, theirs in reference.match],
        may_be_null=[column],
        watched=[column, via],
        source=(model._meta.db_table, model._meta.pk.column, via),
    )


def _owners(guards: list[_Guard]) -> list[_Owner]:
    owners: dict[str, _Owner] = {}

    def owner(table, pk, keys, referrer):
        entry = owners.setdefault(table, _Owner(f"{PREFIX}{table}_owner", table, pk, [], []))
        entry.keys += [key for key in keys if key not in entry.keys]
        entry.referrers.append(referrer)

    for guard in guards:
        owner(
            guard.target, guard.target_pk, [theirs for _, theirs in guard.pairs], (guard.table, guard.column)
        )
        if guard.source:
            table, pk, via = guard.source
            owner(table, pk, [mine for mine, _ in guard.pairs], (guard.table, via))
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


def _sqlite_triggers(apps, q, references) -> list[_Trigger]:
    """The triggers on SQLite: the check is the trigger's WHEN clause."""

    def both(table, name, watched, when, message):
        events = {"insert": "INSERT", "update": f"UPDATE OF {', '.join(q(c) for c in watched)}"}
        return [
            _Trigger(
                table,
                f"{name}_{suffix}",
                f"CREATE TRIGGER {q(name + '_' + suffix)} AFTER {event} ON {q(table)} "
                f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END",
                f"DROP TRIGGER IF EXISTS {q(name + '_' + suffix)}",
            )
            for suffix, event in events.items()
        ]

    triggers = []
    guards = _guards(apps, references)
    for guard in guards:
        when = " AND ".join(
            [f"NEW.{q(c)} IS NOT NULL" for c in guard.may_be_null]
            + [f"NOT EXISTS ({guard.exists(q, 'NEW')})"]
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


def _postgresql_check(guard: _Guard, q) -> tuple[str, str]:
    """The body and declarations of a guard's function: the referred row (and a pair's other row) read by
    primary key alone, its columns compared here. A query that also named the organization could be planned
    on an index led by organization_id (submissions' sub_counts), which reads every row of the organization:
    a check that grows with the table."""
    skip = " OR ".join(f"NEW.{q(c)} IS NULL" for c in guard.may_be_null)
    declare = "".join(
        f"    v{i} {q(guard.target)}.{q(theirs)}%TYPE;\n" for i, (_, theirs) in enumerate(guard.pairs)
    )
    reads = (
        f"    SELECT {', '.join(f't.{q(theirs)}' for _, theirs in guard.pairs)} "
        f"INTO {', '.join(f'v{i}' for i in range(len(guard.pairs)))} "
        f"FROM {q(guard.target)} t WHERE t.{q(guard.target_pk)} = NEW.{q(guard.column)};\n"
    )
    mine = [f"NEW.{q(column)}" for column, _ in guard.pairs]
    if guard.source:
        table, pk, via = guard.source
        declare += "".join(
            f"    s{i} {q(table)}.{q(column)}%TYPE;\n" for i, (column, _) in enumerate(guard.pairs)
        )
        reads += (
            f"    SELECT {', '.join(f's.{q(column)}' for column, _ in guard.pairs)} "
            f"INTO {', '.join(f's{i}' for i in range(len(guard.pairs)))} "
            f"FROM {q(table)} s WHERE s.{q(pk)} = NEW.{q(via)};\n"
        )
        mine = [f"s{i}" for i in range(len(guard.pairs))]
    # A row not found leaves NULL, which differs from any value: refused too.
    differs = " OR ".join(f"v{i} IS NULL OR v{i} IS DISTINCT FROM {value}" for i, value in enumerate(mine))
    body = (
        f"    IF {skip} THEN\n        RETURN NEW;\n    END IF;\n{reads}"
        f"    IF {differs} THEN\n        {_raise(guard.message)}\n    END IF;\n    RETURN NEW;"
    )
    return body, f"DECLARE\n{declare}"


def _postgresql_triggers(apps, q, references) -> tuple[list[str], list[_Trigger], list[str]]:
    """(functions, triggers, statements dropping the functions) on PostgreSQL. Each function is PL/pgSQL
    with a static query, planned once per connection."""
    functions, triggers = [], []

    def add(table, name, body, events, *, timing="AFTER", when="", declare=""):
        functions.append(_function(q(name), body, declare))
        when = f" WHEN ({when})" if when else ""
        triggers.append(
            _Trigger(
                table,
                name,
                f"CREATE OR REPLACE TRIGGER {q(name)} {timing} {events} ON {q(table)} "
                f"FOR EACH ROW{when} EXECUTE FUNCTION {q(name)}()",
                f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}",
            )
        )

    guards = _guards(apps, references)
    for guard in guards:
        body, declare = _postgresql_check(guard, q)
        add(
            guard.table,
            guard.name,
            body,
            f"INSERT OR UPDATE OF {', '.join(q(c) for c in guard.watched)}",
            declare=declare,
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
            timing="BEFORE",
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


def _triggers(connection, apps, references) -> list[_Trigger]:
    q = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return _postgresql_triggers(apps, q, references)[1]
    if connection.vendor == "sqlite":
        return _sqlite_triggers(apps, q, references)
    raise NotImplementedError(f"no organization guards for {connection.vendor}")


def install(schema_editor, apps=global_apps, references=REFERENCES) -> None:
    """Create (or replace) the guards of `references` and AUDITED, then check the rows already stored.

    On PostgreSQL each table's triggers are created in a transaction of their own, waiting at most 3 s at
    a time for the table's lock: the migration never holds two tables' locks at once (no deadlock with a
    submission), and never makes the resident's submit queue behind it for long. Rows already stored that
    cross organizations make it fail, naming them, with the guards removed again: correct them and migrate
    again.
    """
    connection, q = schema_editor.connection, schema_editor.quote_name
    if connection.vendor == "postgresql":
        functions, triggers, _ = _postgresql_triggers(apps, q, references)
        with transaction.atomic(using=connection.alias):
            for sql in functions:
                schema_editor.execute(sql, None)
        for table_triggers in _by_table(triggers).values():
            _locking_briefly(schema_editor, [t.create for t in table_triggers])
    else:
        with transaction.atomic(using=connection.alias):
            for trigger in _triggers(connection, apps, references):
                schema_editor.execute(trigger.drop, None)
                schema_editor.execute(trigger.create, None)
    found = violations(connection, apps, references)
    if found:
        uninstall(schema_editor, apps, references)
        raise RuntimeError(
            "Rows refer to rows of another organization; correct them (e.g. a procedure's 担当所属 in "
            "/admin/) and migrate again:\n" + "\n".join(found)
        )


def uninstall(schema_editor, apps=global_apps, references=REFERENCES) -> None:
    connection, q = schema_editor.connection, schema_editor.quote_name
    if connection.vendor == "postgresql":
        _, triggers, drops = _postgresql_triggers(apps, q, references)
        for table_triggers in _by_table(triggers).values():
            _locking_briefly(schema_editor, [t.drop for t in table_triggers])
        with transaction.atomic(using=connection.alias):
            for sql in drops:
                schema_editor.execute(sql, None)
    else:
        with transaction.atomic(using=connection.alias):
            for trigger in _triggers(connection, apps, references):
                schema_editor.execute(trigger.drop, None)


def replace(schema_editor, apps, old, new) -> None:
    """Go from the guards of `old` to those of `new` (a later migration, or its way back)."""
    connection = schema_editor.connection
    kept = {t.name for t in _triggers(connection, apps, new)}
    gone = [t for t in _triggers(connection, apps, old) if t.name not in kept]
    if connection.vendor == "postgresql":
        for table_triggers in _by_table(gone).values():
            _locking_briefly(schema_editor, [t.drop for t in table_triggers])
        with transaction.atomic(using=connection.alias):
            for trigger in gone:
                schema_editor.execute(
                    f"DROP FUNCTION IF EXISTS {schema_editor.quote_name(trigger.name)}()", None
                )
    else:
        with transaction.atomic(using=connection.alias):
            for trigger in gone:
                schema_editor.execute(trigger.drop, None)
    install(schema_editor, apps, new)


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


def expected(connection, apps=global_apps, references=REFERENCES) -> set[str]:
    """Names of the guard triggers that `references` and AUDITED call for on this database."""
    return {t.name for t in _triggers(connection, apps, references)}


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


def violations(connection, apps=global_apps, references=REFERENCES, limit: int = 10) -> list[str]:
    """Stored rows that cross organizations, as readable lines (at most `limit` per reference)."""
    q = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for guard in _guards(apps, references):
            present = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in guard.may_be_null)
            cursor.execute(
                f"SELECT c.{q(guard.pk)}, c.{q(guard.column)} FROM {q(guard.table)} c "
                f"WHERE {present} AND NOT EXISTS ({guard.exists(q, 'c')}) ORDER BY 1 LIMIT {int(limit)}"
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
