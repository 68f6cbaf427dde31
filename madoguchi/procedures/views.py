"""The builder in the staff area: make a procedure, edit its form field by field, preview, publish, see its
versions; export and import it as a file; share it to the council's template library and copy templates.

Every action is a plain form post that redirects back (no JavaScript needed); builder.js only makes it
quicker. Editors and admins of the procedure's organization may build; anyone else gets 404 (outsiders)
or 403 (other roles).
"""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from madoguchi.accounts import access
from madoguchi.lib.params import parse_id
from madoguchi.organizations.models import Organization
from madoguchi.procedures import builder, forms, portable, services
from madoguchi.procedures.formspec import FIELD_TYPE_LABELS, FormSpecError, parse_form_spec
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, Procedure

# The order staff meet the types in, most used first.
FIELD_TYPE_ORDER = [
    "name", "furigana", "address", "phone", "email", "date", "short_text", "long_text", "number",
    "single_choice", "multiple_choice", "dropdown", "file", "consent", "heading", "group",
]  # fmt: skip


def post_only(view):
    """A builder action is a form post. Reached by GET (a login after the session ran out brings the
    browser back to the action's address), it goes to the builder page instead of an error page."""

    @functools.wraps(view)
    def wrapper(request, procedure_id: int, *args, **kwargs):
        if request.method != "POST":
            access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
            messages.info(request, gettext("ログインし直しました。もう一度操作してください。"))
            return redirect(reverse("staff:builder", kwargs={"procedure_id": procedure_id}))
        return view(request, procedure_id, *args, **kwargs)

    return wrapper


def _builder_url(procedure: Procedure, anchor: str = "") -> str:
    url = reverse("staff:builder", kwargs={"procedure_id": procedure.pk})
    return f"{url}#{anchor}" if anchor else url


def _revision(request: HttpRequest) -> int:
    """The draft revision the page was made from; a post without one never overwrites anything."""
    revision = parse_id(request.POST.get("revision", ""))
    return -1 if revision is None else revision


def _problems(schema: dict) -> tuple[list, dict[int, list[str]]]:
    """Whole-form problems and, per field index, that field's problems, for the builder page."""
    if not builder.fields_of(schema):
        return [gettext("項目がまだありません。「項目を追加」から作ってください。")], {}
    try:
        parse_form_spec(schema)
    except FormSpecError as exc:
        general, by_field = [], {}
        for problem in exc.problems:
            if problem.field_index is None:
                general.append(problem.message)
            else:
                by_field.setdefault(problem.field_index, []).append(problem.detail or problem.message)
        return general, by_field
    return [], {}


def _render_builder(request, procedure: Procedure, *, status: int = 200, extra_problems=()) -> HttpResponse:
    schema = services.draft_of(procedure)
    general, by_field = _problems(schema)
    fields = [
        {
            "definition": f,
            "type_label": FIELD_TYPE_LABELS.get(f.get("type"), ""),
            "problems": by_field.get(i, []),
            "first": i == 0,
            "last": i == len(builder.fields_of(schema)) - 1,
        }
        for i, f in enumerate(builder.fields_of(schema))
    ]
    current = procedure.current_version
    changes = builder.describe_changes(current.schema if current else None, schema)
    by_key = {f["definition"].get("key"): f for f in fields}
    page_groups, placed = [], set()
    for number, page in enumerate(schema.get("pages") or [], start=1):
        members = [by_key[k] for k in page.get("fields", []) if k in by_key]
        placed.update(page.get("fields", []))
        page_groups.append(
            {
                "page": page,
                "number": number,
                "fields": members,
                "first": number == 1,
                "last": number == len(schema["pages"]),
                "skips": len(page.get("skip_to") or []),
            }
        )
    unplaced = [f for f in fields if f["definition"].get("key") not in placed] if page_groups else []
    return render(
        request,
        "staff/builder/builder.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "fields": fields,
            "page_groups": page_groups,
            "unplaced": unplaced,
            "page_mode": builder.page_mode(schema),
            "general_problems": [*extra_problems, *general],
            "field_problems": any(f["problems"] for f in fields),
            "field_types": [(t, FIELD_TYPE_LABELS[t]) for t in FIELD_TYPE_ORDER],
            "email_fields": [f for f in builder.fields_of(schema) if f.get("type") == "email"],
            "email_field": schema.get("email_field"),
            "changes": changes if current else [],
            "unpublished": procedure.draft_schema is not None and (not current or bool(changes)),
            "offered_update": services.offered_update(procedure),
            "councils": procedure.organization.councils.all(),
            "can_distribute": procedure.organization.kind == Organization.Kind.PREFECTURE,
        },
        status=status,
    )


@login_required
def procedure_new(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.BUILD)
    form = forms.ProcedureSettingsForm(request.POST or None, organization=organization, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            procedure = services.create_procedure(
                organization=organization, actor=request.user, **form.values()
            )
        except services.ProcedureError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("手続を作りました。次に、フォームの項目を追加してください。"))
            return redirect(_builder_url(procedure))
    return render(
        request,
        "staff/builder/settings.html",
        {"form": form, "organization": organization, "procedure": None},
        status=400 if form.errors else 200,
    )


@login_required
def builder_page(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    return _render_builder(request, procedure)


@login_required
def builder_settings(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    form = forms.ProcedureSettingsForm(
        request.POST or None, instance=procedure, organization=procedure.organization, user=request.user
    )
    conflict = False
    if request.method == "POST" and form.is_valid():
        current = Procedure.objects.get(pk=procedure.pk)
        if form.changed_elsewhere(current):
            form.add_error(
                None,
                gettext(
                    "ほかの人（または別の画面）がこの手続の設定を先に変更したため、まだ保存していません。"
                    "入力した内容はこの画面に残っています。別の画面で最新の設定を確かめてから、もう一度保存してください。"
                ),
            )
            form.data = form.data.copy()
            form.data["settings_token"] = forms.settings_token(current)  # the next save is a choice made
            conflict = True
        else:
            try:
                services.update_procedure_settings(
                    procedure=procedure, actor=request.user, values=form.values()
                )
            except services.ProcedureError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("手続の設定を保存しました。"))
                return redirect(_builder_url(procedure))
    return render(
        request,
        "staff/builder/settings.html",
        {"form": form, "organization": procedure.organization, "procedure": procedure},
        status=409 if conflict else 400 if form.errors else 200,
    )


def _field_page(request, procedure, form, *, key=None, status=200, conflict=False):
    return render(
        request,
        "staff/builder/field.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "form": form,
            "key": key,
            "revision": request.POST.get("revision") or procedure.draft_revision,
            "conflict": conflict,
        },
        status=status,
    )


def _save(request, procedure, schema, change: str) -> bool:
    """Save the draft; on a conflict, say so and return False (the caller shows the typed form again)."""
    try:
        services.save_draft(
            procedure=procedure, schema=schema, actor=request.user, revision=_revision(request), change=change
        )
    except services.DraftConflict as exc:
        messages.error(request, str(exc))
        return False
    return True


@login_required
def field_new(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    field_type = request.POST.get("type") or request.GET.get("type", "")
    if field_type not in FIELD_TYPE_LABELS:
        return redirect(_builder_url(procedure, "add-field"))
    if len(builder.fields_of(services.draft_of(procedure))) >= 200:
        messages.error(request, gettext("項目は200個までです。"))
        return redirect(_builder_url(procedure))
    schema = services.draft_of(procedure)
    form = forms.FieldForm(request.POST or None, field_type=field_type, schema=schema)
    if request.method == "POST" and "label" in request.POST:
        key = builder.new_key(schema, field_type)
        definition = form.field_definition(key)
        new_schema = None
        if definition is not None:
            after = request.POST.get("after") or None
            try:
                new_schema = builder.add_field(schema, definition, after=after)
            except builder.DraftError:
                new_schema = builder.add_field(schema, definition)
            new_schema = _placed(new_schema, key, form)
        if new_schema is not None and not _rule_problems(form, new_schema, key):
            if _save(request, procedure, new_schema, f"項目「{definition['label']}」を追加"):
                messages.success(
                    request, gettext("項目「%(label)s」を追加しました。") % {"label": definition["label"]}
                )
                return redirect(_builder_url(procedure, f"field-{key}"))
            return _field_page(request, procedure, form, status=409, conflict=True)
        return _field_page(request, procedure, form, status=400)
    return _field_page(request, procedure, form)


@login_required
def field_edit(request: HttpRequest, procedure_id: int, key: str) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    schema = services.draft_of(procedure)
    try:
        _, definition = builder.find(schema, key)
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure))
    field_type = definition.get("type", "")
    if request.method == "POST":
        form = forms.FieldForm(request.POST, field_type=field_type, schema=schema, key=key)
        new = form.field_definition(key)
        new_schema = _placed(builder.replace_field(schema, key, new), key, form) if new is not None else None
        if new_schema is not None and not _rule_problems(form, new_schema, key):
            if _save(request, procedure, new_schema, f"項目「{new['label']}」を変更"):
                messages.success(
                    request, gettext("項目「%(label)s」を保存しました。") % {"label": new["label"]}
                )
                return redirect(_builder_url(procedure, f"field-{key}"))
            return _field_page(request, procedure, form, key=key, status=409, conflict=True)
        return _field_page(request, procedure, form, key=key, status=400)
    form = forms.FieldForm(
        initial=forms.FieldForm.initial_from(definition), field_type=field_type, schema=schema, key=key
    )
    return _field_page(request, procedure, form, key=key)


def _placed(schema: dict, key: str, form) -> dict:
    """The field moved to the page chosen on its form, if the form has pages."""
    page = form.chosen_page()
    if page and builder.page_of(schema, key) != page:
        try:
            return builder.set_field_page(schema, key, page)
        except builder.DraftError as exc:
            form.add_error("page", str(exc))
    return schema


def _rule_problems(form, schema: dict, key: str) -> bool:
    """Refuse a field whose conditions cannot work (a deleted or later field, a value not among the
    options…), with the message at its conditions. Problems elsewhere in the draft are for publishing."""
    if form.errors:
        return True
    try:
        parse_form_spec(schema)
    except FormSpecError as exc:
        index = next(i for i, f in enumerate(builder.fields_of(schema)) if f.get("key") == key)
        return form.place_rule_problems([p for p in exc.problems if p.field_index == index])
    return False


@login_required
@post_only
def field_action(request: HttpRequest, procedure_id: int, key: str, action: str) -> HttpResponse:
    """Move up or down, duplicate or delete one field."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    schema = services.draft_of(procedure)
    try:
        _, definition = builder.find(schema, key)
        label = definition.get("label", "")
        anchor = f"field-{key}"
        if action == "up":
            schema, change = builder.move_field(schema, key, -1), f"項目「{label}」を上へ移動"
            notice = gettext("「%(label)s」を上へ移動しました。")
        elif action == "down":
            schema, change = builder.move_field(schema, key, 1), f"項目「{label}」を下へ移動"
            notice = gettext("「%(label)s」を下へ移動しました。")
        elif action == "duplicate" and len(builder.fields_of(schema)) >= 200:
            raise builder.DraftError(gettext("項目は200個までです。"))
        elif action == "duplicate":
            schema, new_key = builder.duplicate_field(schema, key)
            change, anchor = f"項目「{label}」を複製", f"field-{new_key}"
            notice = gettext("「%(label)s」を複製しました。")
        elif action == "delete":
            schema, change = builder.delete_field(schema, key), f"項目「{label}」を削除"
            anchor = "fields"
            notice = gettext("「%(label)s」を削除しました。")
        else:
            raise Http404
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure, f"field-{key}"))
    if _save(request, procedure, schema, change):
        messages.success(request, notice % {"label": label})
    return redirect(_builder_url(procedure, anchor))


@login_required
@post_only
def email_field(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    key = request.POST.get("email_field", "")
    try:
        schema = builder.set_email_field(services.draft_of(procedure), key or None)
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure, "receipt"))
    if _save(request, procedure, schema, "受付メールの送り先を変更"):
        messages.success(request, gettext("受付メールの送り先を保存しました。"))
    return redirect(_builder_url(procedure, "receipt"))


@login_required
@post_only
def publish(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    if "revision" in request.POST and _revision(request) != procedure.draft_revision:
        messages.error(
            request, gettext("公開する前に、最新の内容を確かめてください（ほかの画面で変更されています）。")
        )
        return redirect(_builder_url(procedure))
    if not builder.fields_of(services.draft_of(procedure)):
        messages.error(request, gettext("項目がひとつもないフォームは公開できません。"))
        return redirect(_builder_url(procedure))
    try:
        version = services.publish(procedure=procedure, actor=request.user)
    except FormSpecError:
        procedure.refresh_from_db()
        return _render_builder(
            request,
            procedure,
            status=400,
            extra_problems=[gettext("公開できません。次の点を直してください。")],
        )
    messages.success(
        request,
        gettext("第%(number)s版として公開しました。住民はすぐに申請できます。") % {"number": version.number},
    )
    return redirect(_builder_url(procedure))


@login_required
@post_only
def discard(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    try:
        services.discard_draft(procedure=procedure, actor=request.user)
    except services.ProcedureError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("公開していない変更を取り消しました。"))
    return redirect(_builder_url(procedure))


@login_required
@post_only
def procedure_status(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Stop taking submissions (受付終了) or take them again."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    status = request.POST.get("status", "")
    if (
        status not in (Procedure.Status.PUBLISHED, Procedure.Status.CLOSED)
        or not procedure.current_version_id
    ):
        messages.error(request, gettext("この操作はできません。"))
    elif status == Procedure.Status.CLOSED and request.POST.get("confirm") != "yes":
        # A click by mistake would turn residents away: closing asks for the box to be ticked (no script needed).
        messages.error(
            request,
            gettext(
                "受付はまだ終了していません。終了するには、確認の欄にチェックを入れてから押してください。"
            ),
        )
    else:
        services.set_procedure_status(procedure=procedure, status=status, actor=request.user)
        messages.success(
            request,
            gettext("受付の状態を「%(status)s」にしました。") % {"status": procedure.get_status_display()},
        )
    return redirect(_builder_url(procedure))


# The preview is shown inside the builder page (same origin) at phone width.
PREVIEW_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)


@login_required
@xframe_options_sameorigin
def preview(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The draft exactly as a resident sees it, rules included; a post checks the answers, saves nothing."""
    from madoguchi.submissions import intake
    from madoguchi.submissions.resident_views import render_form_preview

    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    try:
        spec = parse_form_spec(services.draft_of(procedure))
    except FormSpecError as exc:
        response = render(
            request,
            "staff/builder/preview_unavailable.html",
            {"procedure": procedure, "problems": exc.messages},
        )
        response["Content-Security-Policy"] = PREVIEW_POLICY
        return response
    from madoguchi.procedures import rules
    from madoguchi.submissions.resident_views import change_group_items

    key = f"builder-preview:{procedure.pk}"
    state = request.session.get(key) or {}
    if state.get("revision") != procedure.draft_revision or request.GET.get("restart"):
        state = {}  # the draft changed, or the editor starts over: start the preview afresh
    raw, values = state.get("raw", {}), state.get("values", {})
    errors, checked = {}, False
    page_key = request.GET.get("page") or state.get("page")
    if request.method == "POST" and request.POST.get("switch_language") in dict(settings.LANGUAGES):
        response = redirect(reverse("staff:builder_preview", kwargs={"procedure_id": procedure.pk}))
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, request.POST["switch_language"], max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY, samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )  # fmt: skip
        return response
    if request.method == "POST":
        pages = rules.pages_of(spec)
        paged = len(pages) > 1
        page = next((p for p in pages if p.key == request.POST.get("page")), pages[0])
        page_keys = set(page.fields) if paged else None
        result = intake.parse(
            spec, request.POST, request.FILES, page_keys=page_keys, known=values if paged else {}
        )
        raw = {**raw, **result.raw} if paged else result.raw
        values = {**{k: v for k, v in values.items() if k not in page.fields}, **result.values}
        page_key = page.key
        flow = rules.evaluate(spec, values)
        keys = [p.key for p in flow.pages]
        if change_group_items(spec, page, raw, request.POST):
            pass
        elif "go_back" in request.POST:
            position = keys.index(page.key) if page.key in keys else 0
            page_key = keys[max(position - 1, 0)] if keys else page.key
        elif result.errors:
            errors = result.shown_errors
        elif paged and page.key in keys[:-1] and request.POST.get("return_to") != "confirm":
            page_key = keys[keys.index(page.key) + 1]
        elif flow.exit is not None:
            page_key = flow.exit.key
        else:
            whole = intake.parse(spec, intake.as_post(raw), None) if paged else result
            errors = whole.shown_errors
            first = next((p for p in whole.flow.pages if set(p.fields) & set(errors)), None)
            page_key = first.key if first else page_key
            checked = not errors
        request.session[key] = {
            "revision": procedure.draft_revision,
            "raw": raw,
            "values": values,
            "page": page_key,
        }
    response = render_form_preview(
        request,
        procedure,
        spec,
        raw,
        errors,
        form_action=reverse("staff:builder_preview", kwargs={"procedure_id": procedure.pk}),
        checked=checked,
        values=values,
        page_key=page_key,
    )
    response["Content-Security-Policy"] = PREVIEW_POLICY
    return response


@login_required
def versions(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Every published version, newest first, each with what changed from the one before."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    rows = list(procedure.versions.select_related("created_by").order_by("number"))
    history, previous = [], None
    for version in rows:
        history.append(
            {
                "version": version,
                "changes": builder.describe_changes(previous.schema if previous else None, version.schema),
            }
        )
        previous = version
    history.reverse()
    return render(
        request,
        "staff/builder/versions.html",
        {"procedure": procedure, "organization": procedure.organization, "history": history},
    )


@login_required
@post_only
def version_publish(request: HttpRequest, procedure_id: int, number: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    try:
        version = services.publish_earlier_version(procedure=procedure, number=number, actor=request.user)
    except (services.ProcedureError, FormSpecError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            gettext("第%(old)s版の内容を、第%(new)s版として公開しました。")
            % {"old": number, "new": version.number},
        )
    return redirect(reverse("staff:versions", kwargs={"procedure_id": procedure.pk}))


@login_required
def export_definition(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    try:
        document = services.export_procedure(procedure)
    except ValidationError:  # a draft that is not yet a valid form
        messages.error(request, gettext("フォームに直すところがあるため、ファイルに書き出せません。"))
        return redirect(_builder_url(procedure))
    response = HttpResponse(portable.dumps(document), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="procedure-{procedure.pk}.json"'
    return response


@login_required
def import_definition(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.BUILD)
    form = forms.ImportForm(request.POST, request.FILES) if request.method == "POST" else forms.ImportForm()
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read(portable.MAX_FILE_BYTES + 1)
        try:
            procedure = services.import_procedure(
                organization=organization, actor=request.user, data=data, filename=upload.name or ""
            )
        except portable.DefinitionError as exc:
            problems = exc.messages
        except services.ProcedureError as exc:
            problems = [str(exc)]
        else:
            messages.success(request, gettext("ファイルから手続を作りました（まだ公開していません）。"))
            return redirect(_builder_url(procedure))
    return render(
        request,
        "staff/builder/import.html",
        {"form": form, "organization": organization, "problems": problems},
        status=400 if problems or form.errors else 200,
    )


# The council's template library ---------------------------------------------------------------------


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    templates = access.templates_for_user(request.user).select_related("council", "organization")
    query = request.GET.get("q", "")[:100]
    category = request.GET.get("category", "")
    life_event = request.GET.get("life_event", "")
    if category in dict(CATEGORIES):
        templates = templates.filter(category=category)
    for word in forms.clean_text(query).split()[:8]:
        templates = templates.filter(Q(search_text__contains=word))
    results = list(templates.order_by("category", "title")[:200])
    if life_event in dict(LIFE_EVENTS):
        results = [t for t in results if life_event in (t.life_events or [])]
    return render(
        request,
        "staff/builder/templates.html",
        {
            "templates": results,
            "query": query,
            "category": category,
            "life_event": life_event,
            "categories": CATEGORIES,
            "life_events": LIFE_EVENTS,
        },
    )


def _copy_targets(user):
    roles = access.roles_for_user(user)
    return [
        o for o in access.organizations_for_user(user).order_by("code") if roles.get(o.pk) in access.BUILD
    ]


@login_required
def template_detail(request: HttpRequest, template_id: int) -> HttpResponse:
    template = access.access_template_for_user(request.user, template_id)
    members = set(template.council.members.values_list("pk", flat=True))
    targets = [o for o in _copy_targets(request.user) if o.pk in members]
    form = template.definition.get("form", {})
    return render(
        request,
        "staff/builder/template.html",
        {
            "template": template,
            "fields": [
                {"definition": f, "type_label": FIELD_TYPE_LABELS.get(f.get("type"), "")}
                for f in form.get("fields", [])
            ],
            "targets": targets,
            "life_event_labels": [
                dict(LIFE_EVENTS)[e] for e in template.life_events if e in dict(LIFE_EVENTS)
            ],
        },
    )


@login_required
@require_POST
def template_copy(request: HttpRequest, template_id: int) -> HttpResponse:
    template = access.access_template_for_user(request.user, template_id)
    code = request.POST.get("organization", "")
    organization = access.access_organization_for_user(request.user, code, access.BUILD)
    try:
        procedure = services.copy_template(template=template, organization=organization, actor=request.user)
    except services.ProcedureError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("staff:template", kwargs={"template_id": template.pk}))
    messages.success(
        request,
        gettext(
            "ひな形をコピーしました。担当所属と受付期間を確かめて、必要なら項目を直してから公開してください。"
        )
        if organization.departments.exists()
        else gettext(
            "ひな形をコピーしました。受付期間を確かめて、必要なら項目を直してから公開してください。"
        ),
    )
    return redirect(reverse("staff:builder_settings", kwargs={"procedure_id": procedure.pk}))


@login_required
def share(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    councils = list(procedure.organization.councils.all())
    form = forms.ShareForm(request.POST or None, initial={"category": procedure.category or None})
    if request.method == "POST" and form.is_valid():
        council = next((c for c in councils if str(c.pk) == request.POST.get("council", "")), None)
        if council is None:
            form.add_error(None, gettext("共有する協議会を選んでください。"))
        else:
            try:
                services.share_as_template(
                    procedure=procedure,
                    council=council,
                    actor=request.user,
                    category=form.cleaned_data["category"],
                    life_events=form.cleaned_data["life_events"],
                )
            except services.ProcedureError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("協議会のひな形として共有しました。"))
                return redirect(_builder_url(procedure))
    return render(
        request,
        "staff/builder/share.html",
        {"procedure": procedure, "organization": procedure.organization, "form": form, "councils": councils},
        status=400 if form.errors else 200,
    )


@login_required
def distribute(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The prefecture gives its procedure to chosen municipalities, each as its own draft copy."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    if procedure.organization.kind != Organization.Kind.PREFECTURE:
        raise Http404
    municipalities = list(procedure.organization.municipalities.filter(is_active=True).order_by("code"))
    have = set(procedure.distributed_copies.values_list("organization_id", flat=True))
    error = ""
    if request.method == "POST":
        chosen = set(request.POST.getlist("organizations"))
        targets = [m for m in municipalities if m.code in chosen and m.pk not in have]
        if not targets:
            error = gettext("配布する市町村を選んでください。")
        else:
            try:
                copies = services.distribute(procedure=procedure, organizations=targets, actor=request.user)
            except services.ProcedureError as exc:
                error = str(exc)
            else:
                messages.success(
                    request,
                    ngettext("%(n)s団体に配布しました。", "%(n)s団体に配布しました。", len(copies))
                    % {"n": len(copies)},
                )
                return redirect(_builder_url(procedure))
    return render(
        request,
        "staff/builder/distribute.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "municipalities": [(m, m.pk in have) for m in municipalities],
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
def update_review(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """A copy's editor sees what the source's new version changes, and takes it or leaves it."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    offer = services.offered_update(procedure)
    if offer is None:
        messages.info(request, gettext("新しい更新はありません。"))
        return redirect(_builder_url(procedure))
    if request.method == "POST":
        number = parse_id(request.POST.get("number", "")) or 0
        try:
            accept = request.POST.get("decision") == "accept"
            services.decide_update(procedure=procedure, actor=request.user, number=number, accept=accept)
            if accept:
                messages.success(
                    request, gettext("更新を下書きに取り込みました。確かめてから公開してください。")
                )
            else:
                messages.success(request, gettext("この更新は取り込まないことにしました。"))
        except services.ProcedureError as exc:
            messages.error(request, str(exc))
        return redirect(_builder_url(procedure))
    mine = services.draft_of(procedure)
    return render(
        request,
        "staff/builder/update.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "offer": offer,
            "changes": builder.describe_changes(mine, offer.schema),
        },
    )


# Pages -------------------------------------------------------------------------------------------------


@login_required
@post_only
def pages(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Choose how the form is split into pages, or add a page (or an exit page) at the end."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    schema = services.draft_of(procedure)
    action = request.POST.get("action", "")
    try:
        if action == "mode":
            mode = request.POST.get("mode", "")
            schema, change = builder.set_page_mode(schema, mode), "ページの分け方を変更"
            anchor, notice = "pages", gettext("ページの分け方を保存しました。")
        elif action in ("add", "add_exit"):
            # Residents read it in Japanese, whatever language the editor's screen is in.
            exit_message = "この手続は、お答えの内容では申請できません。" if action == "add_exit" else ""
            schema, key = builder.add_page(schema, exit_message=exit_message)
            change = "終了ページを追加" if exit_message else "ページを追加"
            anchor = f"page-{key}"
            notice = (
                gettext("終了ページを追加しました。") if exit_message else gettext("ページを追加しました。")
            )
        else:
            raise Http404
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure, "pages"))
    if _save(request, procedure, schema, change):
        messages.success(request, notice)
    return redirect(_builder_url(procedure, anchor))


@login_required
def page_edit(request: HttpRequest, procedure_id: int, page_key: str) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    schema = services.draft_of(procedure)
    try:
        _, page = builder.find_page(schema, page_key)
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure, "pages"))
    form = forms.PageForm(request.POST or None, schema=schema, key=page_key, initial=page)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            new_schema = builder.update_page(schema, page_key, form.values())
            problems = []
            try:
                parse_form_spec(new_schema)
            except FormSpecError as exc:
                name = page.get("title") or page_key
                problems = [p.message for p in exc.problems if p.field_index is None and name in p.message]
                problems += [p.message for p in exc.problems if "終了ページに着く" in p.message]
            for message in problems:
                form.add_error(None, message)
            if not problems:
                if _save(request, procedure, new_schema, f"ページ「{page.get('title') or page_key}」を変更"):
                    messages.success(request, gettext("ページの設定を保存しました。"))
                    return redirect(_builder_url(procedure, f"page-{page_key}"))
                status = 409
    return render(
        request,
        "staff/builder/page.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "form": form,
            "page_key": page_key,
            "revision": request.POST.get("revision") or procedure.draft_revision,
        },
        status=status,
    )


@login_required
@post_only
def page_action(request: HttpRequest, procedure_id: int, page_key: str, action: str) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    schema = services.draft_of(procedure)
    try:
        _, page = builder.find_page(schema, page_key)
        name = page.get("title") or page_key
        if action == "up":
            schema, change = builder.move_page(schema, page_key, -1), f"ページ「{name}」を上へ移動"
            notice = gettext("ページを上へ移動しました。")
        elif action == "down":
            schema, change = builder.move_page(schema, page_key, 1), f"ページ「{name}」を下へ移動"
            notice = gettext("ページを下へ移動しました。")
        elif action == "delete":
            schema, change = builder.delete_page(schema, page_key), f"ページ「{name}」を削除"
            notice = gettext("ページを削除しました。")
        else:
            raise Http404
    except builder.DraftError as exc:
        messages.error(request, str(exc))
        return redirect(_builder_url(procedure, "pages"))
    if _save(request, procedure, schema, change):
        messages.success(request, notice)
    return redirect(_builder_url(procedure, "pages"))
