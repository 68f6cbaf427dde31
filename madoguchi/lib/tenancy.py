"""Row-level security: on PostgreSQL the database itself keeps each organization's residents' data apart.

The access helpers (accounts/access.py) are the first layer: staff code reads organization-owned rows only
through them. This is the second: the tables that hold what residents sent and the staff's work on it
(PROTECTED below) carry a PostgreSQL row-level security policy, and the application connects as a role that
does not own them, so the policy applies to every statement it runs. A row is visible, and may be written,
only when its organization is in the connection's tenant scope, the setting `madoguchi.tenant`:

- unset or empty: no organization. A connection that has not said whom it works for sees none of these
  rows and can write none (tests/test_row_level_security.py shows it);
- a comma-separated list of organization ids: those organizations;
- `all`: every organization. System work that is about all of them by nature: the worker (receipts, the
  outbox, counts), management commands, migrations.

Who gets which scope (TenantScopeMiddleware, for every request, before any view runs):

- the staff area (/staff/): the organizations the signed-in user is a member of, and the secretariat of a
  council they work for; none when signed out,
  but for the log-in and password pages (SIGN_IN_PATHS), which find the user and record the attempt;
- the operator's admin (/admin/): all, for a superuser; none for anyone else;
- a resident's page of one organization (/<団体コード>/...): that organization only;
- every other page — the status look-up and its steps, 一時保存 resumed by its link, e-mail verification,
  log-in, open data — all: these find a case by a secret (the 受付番号 with its look-up code, a signed
  link) across organizations by design, or read no organization's rows.

Outside a request (the worker, commands, a shell) a new connection starts with `all`.

Rows with no organization in the audit log (a log-in, the operator's own actions; no resident data) may be
written and read in any scope: a row written must be readable to its writer (INSERT … RETURNING).

Not under row-level security, and why: the tables the council shares by design (procedures and their
versions, templates, counts, indicators, cost shares: a prefecture distributes procedures to its members,
the council reads every member's counts), the tables that decide the scope (organizations, memberships,
所属), and the data keys (read by the worker for every organization). Their isolation rests on the access
helpers and on the organization guards (lib/integrity.py).

SQLite has no row-level security: there, every function here does nothing.

Setting up the role: `manage.py db_app_role <role>` run as the tables' owner (docs/security.md).
"""

# Every name in the SQL built here comes from the models' metadata or the constants here, never from input.
# ruff: noqa: S608

from __future__ import annotations

import contextvars
import re
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.backends.signals import connection_created

from madoguchi.lib import prepared

SETTING = "madoguchi.tenant"
ALL = "all"
NONE = ""

# (app_label, model): the organization-owned tables under row-level security.
PROTECTED = (
    ("submissions", "Submission"),
    ("submissions", "StatusChange"),
    ("submissions", "Note"),
    ("submissions", "StagedUpload"),
    ("submissions", "Attachment"),
    ("submissions", "AnswerRevision"),
    ("submissions", "ExportFile"),
    ("submissions", "SubmissionDraft"),
    ("submissions", "DisposalList"),
    ("notifications", "OutgoingEmail"),
    ("notifications", "Message"),
    ("notifications", "EmailVerification"),
    ("audit", "AuditLog"),
)

# (app_label, model) → why an organization-owned table is left to the access helpers and the guards.
SHARED_BY_DESIGN = {
    ("organizations", "Department"): "所属 names and telephone numbers, shown on residents' pages",
    ("organizations", "CouncilMembership"): "the council's members: between organizations by nature",
    ("organizations", "DataKey"): "read by the worker for every organization; stored wrapped",
    ("accounts", "Membership"): "decides the staff's scope itself",
    ("procedures", "Procedure"): "published to residents; distributed by a prefecture to its members",
    ("procedures", "FormVersion"): "published to residents; distributed with their procedures",
    ("procedures", "ProcedureTemplate"): "the council's template library, read by every member",
    ("notifications", "EmailText"): "copied with procedures; no resident data",
    ("stats", "DailyCount"): "counts: the council reads every member's",
    ("stats", "MonthlyCount"): "counts: the council reads every member's",
    ("stats", "ClosedMonthCount"): "counts: the council reads every member's",
    ("stats", "CouncilClosedMonthCount"): "counts: the council's own sums of its members' counts",
    ("stats", "StatusCount"): "counts: the council reads every member's",
    ("stats", "WorkingGroupMembership"): "部会 membership: the council's secretariat keeps it",
    ("stats", "Indicator"): "indicators: the council reads every member's; published as open data",
    ("stats", "IndicatorYear"): "indicators: the council reads every member's; published as open data",
    ("stats", "RatingThresholds"): "rating thresholds, read with the indicators",
}

# Inside a request: a connection opened then starts with no scope until the middleware says which.
_in_request = contextvars.ContextVar("madoguchi_tenant_in_request", default=False)
# The scope the code running now asked for (None: none asked; the default above applies). A connection
# opened later takes it, so a request that never reads the database never opens a connection for this.
_wanted = contextvars.ContextVar("madoguchi_tenant_wanted", default=None)


def _enabled() -> bool:
    return connection.vendor == "postgresql"


# The tenant condition on a row's organization_id: what every policy, and the search below, applies.
ALLOWED = (
    f"(current_setting('{SETTING}', true) = '{ALL}' OR organization_id = ANY "
    f"(string_to_array(nullif(current_setting('{SETTING}', true), '{ALL}'), ',')::bigint[]))"
)


def policy_sql(table: str, nullable: bool) -> list[str]:
    """The statements that put `table` (with an organization_id column) under the tenant policy."""
    allowed = ALLOWED
    if nullable:  # (an INSERT … RETURNING must also be able to read the row it wrote)
        allowed = f"(organization_id IS NULL OR {allowed})"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS madoguchi_tenant ON "{table}"',
        f'CREATE POLICY madoguchi_tenant ON "{table}" USING {allowed} WITH CHECK {allowed}',
    ]


def protected_models(apps=None):
    from django.apps import apps as global_apps

    registry = apps or global_apps
    return [registry.get_model(app_label, name) for app_label, name in PROTECTED]


# The back office's name search (submissions/staff_views.py) under row-level security. A policy keeps the
# planner from answering a condition that could leak (LIKE is not LEAKPROOF) from an index before the
# policy has filtered the rows: the trigram index (sub_search_trgm) would go unused and a search would read
# every case of the procedure. This function, owned by the tables' owner (whom the policy does not bind),
# applies the very same tenant condition itself and answers the LIKE from the index; it returns ids only.
SEARCH_FUNCTION = "madoguchi_search_submissions"
SEARCH_BODY = "SELECT id FROM submissions_submission WHERE search_text LIKE $1 AND " + ALLOWED


def _search_function_sql(schema: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {SEARCH_FUNCTION}(text) RETURNS SETOF bigint "
        f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $body${SEARCH_BODY}$body$"
    )


def submissions_containing(text: str):
    """A Q for the submissions whose search column contains `text` (taken literally: % and _ match
    themselves), within the connection's tenant scope; the caller narrows it to a procedure. On SQLite a
    plain LIKE."""
    from django.db.models import Q
    from django.db.models.expressions import RawSQL

    if not _enabled():
        return Q(search_text__contains=text)
    pattern = f"%{connection.ops.prep_for_like_query(text)}%"
    return Q(pk__in=RawSQL(f"SELECT {SEARCH_FUNCTION}(%s)", (pattern,)))  # noqa: S611 (bound parameter)


def install(apps, schema_editor) -> None:
    """Migration step: enable row-level security and the tenant policy on every PROTECTED table, and make
    the search function."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for model in protected_models(apps):
        field = model._meta.get_field("organization")
        for statement in policy_sql(model._meta.db_table, field.null):
            schema_editor.execute(statement)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = schema_editor.connection.ops.quote_name(cursor.fetchone()[0])
    schema_editor.execute(_search_function_sql(schema))


def uninstall(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {SEARCH_FUNCTION}(text)")
    for model in protected_models(apps):
        table = model._meta.db_table
        schema_editor.execute(f'DROP POLICY IF EXISTS madoguchi_tenant ON "{table}"')
        schema_editor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


def _set(value: str) -> None:
    with prepared.cursor(
        connection
    ) as cursor:  # (each text here is made once: prepared on a kept connection)
        cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, value])
    connection.madoguchi_tenant = value


def _set_from(query: str, params: list) -> str:
    """Set the scope to what `query` gives (one text value; none when it gives no row or NULL), in one
    statement; returns it."""
    with prepared.cursor(connection) as cursor:
        cursor.execute(f"SELECT set_config(%s, coalesce(({query}), ''), false)", [SETTING, *params])
        value = cursor.fetchone()[0]
    connection.madoguchi_tenant = value
    return value


def _default() -> str:
    return NONE if _in_request.get() else ALL


def current() -> str | None:
    """The scope this thread's connection works in, or will when it opens: "all", "" (none), or
    organization ids as "1,5"; None on SQLite."""
    if not _enabled():
        return None
    if connection.connection is not None:
        return connection.madoguchi_tenant
    return _outer()


def _outer() -> str:
    wanted = _wanted.get()
    return _default() if wanted is None else wanted


@contextmanager
def _scoped(value: str):
    token = _wanted.set(value)
    before = connection.madoguchi_tenant if connection.connection is not None else None
    if before is not None and before != value:
        _set(value)
    try:
        yield
    finally:
        _wanted.reset(token)
        if connection.connection is not None:
            back = before if before is not None else _outer()
            if connection.madoguchi_tenant != back:
                _set(back)


@contextmanager
def scope(organization_ids=ALL):
    """Within the block, this thread's connection works for these organizations (an iterable of ids), or
    for every organization (ALL), and then returns to the scope it had. A no-op on SQLite.

    Use ALL only for work that is about every organization by nature, and say why beside it."""
    if not _enabled():
        yield
        return
    value = ALL if organization_ids == ALL else ",".join(str(int(i)) for i in sorted(set(organization_ids)))
    with _scoped(value):
        yield


@contextmanager
def including(organization_ids):
    """Within the block, the connection's scope also covers these organizations: for a service that writes
    into other organizations by its nature (a prefecture distributing a procedure records the receipt in
    each municipality's audit log). The service checks first that it may; this only lets the write through.
    A no-op on SQLite and when the scope is already every organization."""
    now = current()
    if now is None or now == ALL:
        yield
        return
    ids = {int(i) for i in now.split(",") if i} | {int(i) for i in organization_ids}
    with scope(ids):
        yield


@contextmanager
def as_table_owner():
    """Within the block, the connection works as the user it logged in as, not DATABASE_APP_ROLE: for the
    work of the tables' owner (bulk loading with COPY, which row-level security does not allow, and schema
    changes). A no-op on SQLite or without DATABASE_APP_ROLE."""
    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if not _enabled() or not role or getattr(connection, "madoguchi_as_owner", False):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    connection.madoguchi_as_owner = True
    try:
        yield
    finally:
        connection.madoguchi_as_owner = False
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {role_sql(role)}")


# Log-in and password pages, before anyone is signed in: they find a user by name or by a signed link and
# record the attempt against the user's organization (a log-in, a lockout, a new password).
SIGN_IN_PATHS = (
    "/staff/login/",
    "/staff/logout/",
    "/staff/password/",
    "/staff/passkeys/verify/",
    "/admin/login/",
)


def _scope_for_request(request) -> str | tuple[str, list]:
    """The request's scope: a value, or (a query giving the value, its parameters) to be read and set by one
    statement."""
    path = request.path_info
    code = _organization_code(path)
    if code is not None:  # decided by the address alone: a resident's request loads no session for this
        from madoguchi.organizations.models import Organization

        return (f'SELECT id::text FROM "{Organization._meta.db_table}" WHERE code = %s', [code])
    if not path.startswith(("/staff/", "/admin/")):
        return ALL
    user = request.user
    if not user.is_authenticated and path.startswith(SIGN_IN_PATHS):
        return ALL
    if path.startswith("/staff/"):
        if not user.is_authenticated:
            return NONE
        from madoguchi.accounts.models import CouncilRole, Membership
        from madoguchi.organizations.models import Council

        # Their organizations, and for the council's staff the secretariat their council work is recorded
        # under (the council's pages read counts, which are not under row-level security).
        membership, role, council = (m._meta.db_table for m in (Membership, CouncilRole, Council))
        return (
            f"SELECT string_agg(DISTINCT o::text, ',') FROM (SELECT organization_id AS o FROM \"{membership}\" "
            f'WHERE user_id = %s UNION SELECT c.secretariat_id FROM "{role}" r JOIN "{council}" c '
            "ON c.id = r.council_id WHERE r.user_id = %s) AS ids",
            [user.pk, user.pk],
        )
    return ALL if user.is_authenticated and user.is_active and user.is_superuser else NONE  # /admin/


def _organization_code(path: str) -> str | None:
    """The 団体コード a resident's page is of: /312011/... → "312011"."""
    first = path.split("/", 2)[1] if path.count("/") >= 2 else ""
    return first if len(first) == 6 and first.isascii() and first.isdigit() else None


class TenantScopeMiddleware:
    """Sets the connection's tenant scope for the request (see the module's docstring), and returns it to
    what it was afterwards. After AuthenticationMiddleware, before anything that reads residents' data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _enabled():
            return self.get_response(request)
        request_token = _in_request.set(True)
        # Decided with no residents' data in reach: a connection opened now has no scope yet, and
        # memberships and organizations are not under row-level security.
        value = _scope_for_request(request)
        restore = None
        if connection.connection is not None and connection.madoguchi_tenant_outside:
            # A connection opened outside any request (a test's, a shell's) gets its scope back after;
            # one opened by requests keeps this one until the next request sets its own.
            restore = connection.madoguchi_tenant
        if isinstance(value, tuple):
            value = _set_from(*value)
        elif connection.connection is not None and connection.madoguchi_tenant != value:
            _set(value)
        wanted_token = _wanted.set(value)  # for a connection opened later in the request
        try:
            return self.get_response(request)
        finally:
            _wanted.reset(wanted_token)
            _in_request.reset(request_token)
            if (
                restore is not None
                and connection.connection is not None
                and connection.madoguchi_tenant != restore
            ):
                _set(restore)


def _on_connection_created(sender, connection, **kwargs):
    """A new PostgreSQL connection takes the application's role (DATABASE_APP_ROLE), and, outside a
    request, the scope of every organization (the worker, commands); in a request it starts with none."""
    if connection.vendor != "postgresql" or connection.alias != DEFAULT_DB_ALIAS:
        return
    role = getattr(settings, "DATABASE_APP_ROLE", "")
    wanted = _wanted.get()
    value = _default() if wanted is None else wanted
    with connection.cursor() as cursor:
        if role:
            cursor.execute(f"SET ROLE {role_sql(role)}")
        if value != NONE:
            cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, value])
    connection.madoguchi_tenant = value
    connection.madoguchi_tenant_outside = not _in_request.get()


connection_created.connect(_on_connection_created, dispatch_uid="madoguchi_tenancy")


ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def role_sql(role: str) -> str:
    """A role's name as SQL. Raises ValueError (Japanese) for anything but a plain PostgreSQL name (lower-case
    letters, digits and _, at most 63): a name from the environment or a command line is never SQL."""
    if not ROLE_NAME.fullmatch(role):
        raise ValueError(
            f"ロール名「{role[:80]}」は使えません。英小文字・数字・_ で63文字まで（先頭は数字以外）にしてください。"
        )
    return f'"{role}"'


def grant_app_role(role: str) -> None:
    """Make `role` the application's role in this database: created (NOLOGIN; give it LOGIN and a password,
    or grant it to the user the application logs in as) when missing, allowed to read and write every table
    and sequence of the schema, now and those later migrations make. It owns nothing, so row-level security
    applies to it. Run as the tables' owner (it resets any role this connection took).

    Raises ValueError for a name that is not a plain role name (role_sql), django.db.Error (psycopg's
    InsufficientPrivilege) when run by a user who may not grant."""
    if not _enabled():
        return
    name = role_sql(role)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {name} NOLOGIN")
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {name}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {name}")
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {name}"
        )
        role_now = getattr(settings, "DATABASE_APP_ROLE", "")
        if role_now:
            cursor.execute(f"SET ROLE {role_sql(role_now)}")
