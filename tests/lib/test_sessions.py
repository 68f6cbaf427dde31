"""The session store says in one statement each what Django's database store says: same rows, same errors."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from madoguchi.lib import envelope
from madoguchi.lib.sessions import SessionStore

pytestmark = pytest.mark.django_db


class DjangoStore(DjangoStore):
    """Django's own database store, reading our rows once decrypted (lib/envelope.py: sessions are stored
    encrypted, in Django's format inside). Django salts a session's signature with the store's class name."""

    __qualname__ = "SessionStore"

    def decode(self, session_data):
        return super().decode(envelope.decrypt_session(session_data))


def test_it_is_the_configured_store(settings):
    assert settings.SESSION_ENGINE == "madoguchi.lib.sessions"


def test_a_new_session_is_one_row_that_django_s_own_store_reads_back():
    session = SessionStore()
    session["apply:1"] = {"raw": {"name": "髙橋"}, "valid": True}
    session.save()
    row = Session.objects.get(session_key=session.session_key)
    assert row.expire_date > timezone.now()
    assert "髙橋" not in row.session_data and row.session_data.startswith("e2:")  # stored encrypted
    assert DjangoStore(session.session_key)["apply:1"] == {"raw": {"name": "髙橋"}, "valid": True}
    again = SessionStore(session.session_key)
    again["apply:1"] = {"submitted": 7}
    again.save()
    assert DjangoStore(session.session_key)["apply:1"] == {"submitted": 7}
    assert Session.objects.count() == 1


def test_an_unknown_or_expired_session_reads_as_new_and_forgets_its_key():
    session = SessionStore()
    session["a"] = 1
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(session.session_key)
    assert expired.load() == {}
    assert expired.session_key is None
    unknown = SessionStore("x" * 32)
    assert unknown.get("a") is None and unknown.session_key is None


def test_saving_a_session_deleted_meanwhile_is_an_update_error():
    session = SessionStore()
    session["a"] = 1
    session.save()
    Session.objects.all().delete()  # logged out in another tab
    session["a"] = 2
    with pytest.raises(UpdateError):
        session.save()


def test_a_key_already_taken_is_refused_by_the_database_and_another_is_drawn(monkeypatch):
    first = SessionStore()
    first["a"] = 1
    first.save()
    clash = SessionStore(first.session_key)
    with pytest.raises(CreateError):
        clash.save(must_create=True)
    assert DjangoStore(first.session_key)["a"] == 1  # the row there is untouched
    keys = iter([first.session_key, "n" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    fresh = SessionStore()
    fresh["b"] = 2
    fresh.save()
    assert fresh.session_key == "n" * 32
    assert fresh.exists("n" * 32) and not fresh.exists("m" * 32)


def test_a_clash_inside_a_transaction_leaves_the_transaction_usable():
    from django.db import transaction

    first = SessionStore()
    first.save()
    with transaction.atomic():
        with pytest.raises(CreateError):
            SessionStore(first.session_key).save(must_create=True)
        assert Session.objects.count() == 1  # still usable (the INSERT had its own savepoint)


@pytest.mark.database("postgresql")
def test_on_a_kept_connection_the_statements_are_prepared_and_errors_are_the_same(monkeypatch):
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as production runs
    session = SessionStore()
    session["a"] = 1
    session.save()
    again = SessionStore(session.session_key)
    assert again["a"] == 1
    again["a"] = 2
    again.save()
    assert DjangoStore(session.session_key)["a"] == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%django_session%%'"
        )
        assert cursor.fetchone()[0] == 3  # read, write a new one, write again
    with pytest.raises(CreateError):
        SessionStore(session.session_key).save(must_create=True)
    Session.objects.all().delete()
    with pytest.raises(UpdateError):
        again.save()
