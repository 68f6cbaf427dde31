"""Personas and small factories. Data is set up through the real services.

- owner: admin of 鳥取市 (312011)
- colleague: processor in 鳥取市
- viewer: read-only in 鳥取市
- outsider: processor of 米子市 (312029): must get 404 on everything of 鳥取市
- secretariat: the council's secretariat (counts, never answers)
"""

import shutil
import tempfile

import pytest
from django.contrib.auth import get_user_model
from django.test.client import ClientMixin
from django.utils import timezone

from madoguchi.accounts.models import CouncilRole, Membership, Role
from madoguchi.organizations.models import Council, CouncilMembership, Department, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import save_form_version, set_procedure_status
from madoguchi.submissions import services

PASSWORD = "correct-horse-battery-staple"


def _force_login_with_second_factor(self, user, backend=None):
    """Django's force_login, and the second factor passed too, for whoever would be asked for one: a test
    that logs a user in this way means "fully logged in". tests/test_two_factor.py logs in by the pages."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    from madoguchi.accounts import two_factor

    _force_login(self, user, backend)
    if two_factor.is_required(user) or two_factor.is_enabled(user):
        device = StaticDevice.objects.get_or_create(user=user, name="テスト", defaults={"confirmed": True})[0]
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


_force_login = ClientMixin.force_login
ClientMixin.force_login = _force_login_with_second_factor

SIGNUP_SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "furigana", "type": "furigana", "label": "ふりがな", "required": True},
        {"key": "phone", "type": "phone", "label": "電話番号", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "session", "type": "single_choice", "label": "希望する回", "required": True,
         "options": ["午前", "午後"]},
        {"key": "agree", "type": "consent", "label": "注意事項に同意します", "required": True},
    ],
}  # fmt: skip

ALL_TYPES_SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "intro", "type": "heading", "label": "申請者", "text": "説明"},
        {"key": "title", "type": "short_text", "label": "件名", "max_length": 50},
        {"key": "body", "type": "long_text", "label": "内容"},
        {"key": "count", "type": "number", "label": "人数", "min_value": "1", "max_value": "99"},
        {"key": "email", "type": "email", "label": "メールアドレス"},
        {"key": "phone", "type": "phone", "label": "電話番号"},
        {"key": "address", "type": "address", "label": "住所"},
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "kana", "type": "furigana", "label": "フリガナ", "script": "katakana"},
        {"key": "birthday", "type": "date", "label": "生年月日"},
        {"key": "gender", "type": "single_choice", "label": "区分", "options": ["甲", "乙"]},
        {"key": "topics", "type": "multiple_choice", "label": "関心", "options": ["子育て", "介護", "防災"]},
        {"key": "area", "type": "dropdown", "label": "地区", "options": ["東部", "中部", "西部"]},
        {"key": "doc", "type": "file", "label": "書類", "allowed_types": ["pdf", "png"], "max_size_mb": 1},
        {"key": "agree", "type": "consent", "label": "同意します"},
    ],
}  # fmt: skip


APPLICATION_ROLE = "madoguchi_app_test"


@pytest.fixture(scope="session", autouse=True)
def _application_role(django_db_setup, django_db_blocker):
    """On PostgreSQL the suite works as production should: as a role that owns no table, made by
    `manage.py db_app_role`'s code, so that row-level security (lib/tenancy.py) applies to every test.
    Migrations ran before, as the owner. TRUNCATE is for the flush between transactional tests only."""
    from django.conf import settings
    from django.db import connection

    from madoguchi.lib import tenancy

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock():
        tenancy.grant_app_role(APPLICATION_ROLE)
        with connection.cursor() as cursor:
            cursor.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {APPLICATION_ROLE}")
            cursor.execute(f"SET ROLE {APPLICATION_ROLE}")
        settings.DATABASE_APP_ROLE = APPLICATION_ROLE
    yield


@pytest.fixture(autouse=True)
def _japanese_to_start_with():
    """Each test starts in the site's language: a request in English leaves English active on its thread
    (LocaleMiddleware activates, nothing deactivates), and pytest-django runs the transactional tests last."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    """Django's advice for test runs: a cheap hasher, so that making a user and logging in take no second
    each (production keeps PBKDF2 with Django's iteration count; no test is about the hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_root(settings):
    path = tempfile.mkdtemp(prefix="madoguchi-media-")
    settings.MEDIA_ROOT = path
    yield
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clear_cache(request):
    """The status lookup counts failures in the (database) cache: start each database test afresh."""
    yield
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if uses_db:
        from django.core.cache import cache

        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_data_keys():
    """Each test starts with no data keyset cached: the database a test sees was rolled back or flushed
    after the last one, so a keyset cached then (the site's, for sessions, above all) may be gone, and a
    session encrypted with it would not open once the cache is read again. (In production keyset rows are
    never deleted.)"""
    from madoguchi.lib import envelope

    envelope.forget_cached_keys()
    yield


@pytest.fixture
def pref(db):
    return Organization.objects.create(
        code="310000", kind="prefecture", name="鳥取県", name_kana="トットリケン"
    )


@pytest.fixture
def tottori(pref):
    return Organization.objects.create(
        code="312011", kind="municipality", name="鳥取市", name_kana="トットリシ", prefecture=pref
    )


@pytest.fixture
def yonago(pref):
    return Organization.objects.create(
        code="312029", kind="municipality", name="米子市", name_kana="ヨナゴシ", prefecture=pref
    )


@pytest.fixture
def council(pref, tottori, yonago):
    council = Council.objects.create(name="鳥取県自治体ICT共同化推進協議会", secretariat=pref)
    for member in (pref, tottori, yonago):
        CouncilMembership.objects.create(council=council, organization=member)
    return council


def make_user(username: str, organization=None, role=None):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if organization is not None:
        Membership.objects.create(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def owner(tottori):
    return make_user("owner", tottori, Role.ADMIN)


@pytest.fixture
def colleague(tottori):
    return make_user("colleague", tottori, Role.PROCESSOR)


@pytest.fixture
def viewer(tottori):
    return make_user("viewer", tottori, Role.VIEWER)


@pytest.fixture
def editor(tottori):
    return make_user("editor", tottori, Role.EDITOR)


@pytest.fixture
def outsider(yonago):
    return make_user("outsider", yonago, Role.ADMIN)


@pytest.fixture
def secretariat(council):
    user = make_user("secretariat")
    CouncilRole.objects.create(user=user, council=council)
    return user


def make_procedure(organization, schema=None, *, title="シニア向けスマートフォン教室", **fields) -> Procedure:
    department = Department.objects.get_or_create(organization=organization, name="生涯学習課")[0]
    procedure = Procedure.objects.create(
        organization=organization,
        department=department,
        title=title,
        kind=fields.pop("kind", "signup"),
        **fields,
    )
    save_form_version(procedure=procedure, schema=schema or SIGNUP_SCHEMA)
    set_procedure_status(procedure=procedure, status=Procedure.Status.PUBLISHED)
    procedure.refresh_from_db()
    return procedure


@pytest.fixture
def procedure(tottori):
    return make_procedure(tottori)


SIGNUP_ANSWERS = {
    "name": {"family": "髙橋", "given": "﨑子"},
    "furigana": "たかはし　さきこ",
    "phone": "0857-20-3111",
    "email": "sakiko@example.jp",
    "session": "午前",
    "agree": True,
}


def client_counted(token: str, limit: int = 10**6) -> dict:
    """submit_confirmed's client counter for a test: a key of its own per application, so that concurrent
    submits in a test do not queue on one counter row."""
    from madoguchi.submissions import counters

    return {"client_key": counters.key_of("test", token), "client_window_seconds": 600, "client_limit": limit}


def make_submission(procedure, answers=None, token=None, *, orm_path=False):
    """Submit as the 確認画面 does: in one statement where the database allows, else through the ORM
    (orm_path=True: the ORM path only, as for files to attach)."""
    import secrets

    answers = answers or dict(SIGNUP_ANSWERS)
    token = token or secrets.token_hex(8)
    email = answers.get("email", "")
    if not orm_path and services.one_statement_available():
        result = services.submit_confirmed(
            organization_code=procedure.organization.code,
            procedure_id=procedure.pk,
            version_id=procedure.current_version_id,
            answers=answers,
            token=token,
            applicant_email=email,
            **client_counted(token),
        )
        if result is not None:
            return result
    return services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=answers,
        staged_files={},
        token=token,
        applicant_email=email,
    )


@pytest.fixture
def submission(procedure):
    return make_submission(procedure).submission


@pytest.fixture
def now():
    return timezone.now()


SIGNUP_POST = {
    "name__family": "髙橋",
    "name__given": "﨑子",
    "furigana": "タカハシ　サキコ",
    "phone": "０８５７－２０－３１１１",
    "email": "ｓａｋｉｋｏ＠example.jp",
    "session": "午前",
    "agree": "1",
}


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's form (the 確認画面's token and signed answers), as a browser sends them."""
    import html
    import re

    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def pytest_collection_modifyitems(config, items):
    """Tests marked database("postgresql") or database("sqlite") run only on that database: CI runs the
    suite on each, so each such test runs once there, and is deselected (not skipped) on the other."""
    from django.db import connection

    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("database")
        if marker and marker.args[0] not in ("postgresql", "sqlite"):
            raise pytest.UsageError(f"{item.nodeid}: database({marker.args[0]!r}) names no database CI runs")
        (deselected if marker and marker.args[0] != connection.vendor else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def run_at_once(*functions) -> None:
    """Run the functions in threads started together, and wait for all (each closes its own connection)."""
    import threading

    threads = [threading.Thread(target=function) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
