"""Envelope encryption of personal data at rest: answers, 補正前の回答, 一時保存, attachments, export files and
sessions.

Keys (Google Tink, https://developers.google.com/tink):
- the **master keyset** (AES-256-GCM) comes from the environment (MADOGUCHI_MASTER_KEYSET, a Tink JSON keyset,
  or MADOGUCHI_MASTER_KEYSET_FILE) and is never stored in the database or its backups;
- each organization has its own **data keysets** (organizations.DataKey): an AEAD keyset (AES-256-GCM) for
  answers and a streaming keyset (AES-256-GCM-HKDF, 1 MB segments) for files. They are stored only wrapped
  (encrypted) by the master keyset, with the organization in the associated data, so a wrapped keyset copied
  to another organization does not open. Sessions use the site's own keyset (no organization).

Every ciphertext names its key (Tink's 5-byte prefix for answers; our file header for files), so a keyset
may hold several keys: rotation adds a new primary key and keeps the old ones for reading
(`manage.py rotate_keys`). Associated data binds each ciphertext to its organization and its kind: an
answer copied into another organization's row, or into a file, does not decrypt.

Errors: `KeyUnavailable` when a ciphertext's key is not in the keyset (or the master keyset cannot unwrap a
data keyset); never a silent plaintext fallback, except for rows and files written before encryption
existed, which carry no ciphertext marker at all.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import tink
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from tink import aead, secret_key_access, streaming_aead
from tink.proto import tink_pb2

aead.register()
streaming_aead.register()

# Development only (DEBUG or MADOGUCHI_INSECURE_DEV_KEY, as for SECRET_KEY): a fixed master keyset so that
# `make run` needs no set-up. Production refuses to start without its own (settings.py).
DEV_MASTER_KEYSET = (
    '{"primaryKeyId":1651056231,"key":[{"keyData":{"typeUrl":"type.googleapis.com/google.crypto.tink.AesGcmKey",'
    '"value":"GiBFxgd9CQMlLXAx4bkjUFwD0ai1G4n2PURncUJ4sElVVQ==","keyMaterialType":"SYMMETRIC"},'
    '"status":"ENABLED","keyId":1651056231,"outputPrefixType":"TINK"}]}'
)

# A file written by this module starts with FILE_MAGIC and the 4-byte id of the streaming key (big-endian),
# then Tink's stream. Files stored before encryption existed have no such header and are read as they are.
FILE_MAGIC = b"MDGENC1\0"
_FILE_HEADER = len(FILE_MAGIC) + 4
ANSWERS_FORMAT = 2  # {"format": 2, "enc": base64 of Tink's AEAD ciphertext of the JSON}
_SESSION_PREFIX = "e2:"
# How long a process keeps an organization's keysets before reading them again: a key added by
# rotate_keys is used for new writes by every process within this time. Reads never wait for it: a
# ciphertext under a key the cached keyset lacks makes the process read the keyset again at once.
KEYSET_CACHE_SECONDS = 60
SITE_SCOPE = "site"

AEAD_TEMPLATE = aead.aead_key_templates.AES256_GCM
STREAMING_TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB


class KeyUnavailable(Exception):
    """A ciphertext's key is in no keyset this deployment has, or a data keyset cannot be unwrapped."""


# Master keyset --------------------------------------------------------------------------------------------


@functools.cache
def master_aead() -> aead.Aead:
    return master_handle().primitive(aead.Aead)


def master_handle() -> tink.KeysetHandle:
    text = settings.MASTER_KEYSET or DEV_MASTER_KEYSET
    return tink.json_proto_keyset_format.parse(text, secret_key_access.TOKEN)


def master_primary_id() -> int:
    return master_handle().keyset_info().primary_key_id


def new_master_keyset(current: str | None = None) -> str:
    """A master keyset JSON: `current`'s keys with a new primary key added, or a fresh one. The operator puts
    it in MADOGUCHI_MASTER_KEYSET, then runs `rotate_keys --rewrap`, then may drop the old keys
    (`master_keyset --only-primary`)."""
    fresh = tink.new_keyset_handle(AEAD_TEMPLATE)
    if not current:
        return _to_json(fresh)
    return _to_json(_with_new_primary(tink.json_proto_keyset_format.parse(current, secret_key_access.TOKEN)))


def only_primary(current: str) -> str:
    """`current` with every key but its primary removed (after `rotate_keys --rewrap`)."""
    keyset = _keyset_proto(tink.json_proto_keyset_format.parse(current, secret_key_access.TOKEN))
    kept = [key for key in keyset.key if key.key_id == keyset.primary_key_id]
    del keyset.key[:]
    keyset.key.extend(kept)
    return _to_json(tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN))


def _to_json(handle: tink.KeysetHandle) -> str:
    data = json.loads(tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN))
    return json.dumps(data, separators=(",", ":"))


def _keyset_proto(handle: tink.KeysetHandle) -> tink_pb2.Keyset:
    return tink_pb2.Keyset.FromString(tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN))


def _with_new_primary(handle: tink.KeysetHandle) -> tink.KeysetHandle:
    """`handle`'s keys plus a new key of the same kind, made primary."""
    keyset = _keyset_proto(handle)
    type_url = keyset.key[0].key_data.type_url
    template = STREAMING_TEMPLATE if "Streaming" in type_url else AEAD_TEMPLATE
    while True:
        new = _keyset_proto(tink.new_keyset_handle(template))
        if new.primary_key_id not in {key.key_id for key in keyset.key}:
            break
    keyset.key.extend(new.key)
    keyset.primary_key_id = new.primary_key_id
    return tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)


# Data keysets (organizations.DataKey) ---------------------------------------------------------------------


def _scope(organization_id: int | None) -> str:
    return SITE_SCOPE if organization_id is None else str(organization_id)


def _wrap(handle: tink.KeysetHandle, scope: str, kind: str) -> str:
    return tink.json_proto_keyset_format.serialize_encrypted(
        handle, master_aead(), f"madoguchi-keyset:{scope}:{kind}".encode()
    )


def _unwrap(wrapped: str, scope: str, kind: str) -> tink.KeysetHandle:
    try:
        return tink.json_proto_keyset_format.parse_encrypted(
            wrapped, master_aead(), f"madoguchi-keyset:{scope}:{kind}".encode()
        )
    except tink.TinkError as exc:
        raise KeyUnavailable(f"data keyset {scope}/{kind} does not open with the master keyset") from exc


@dataclass(frozen=True)
class Keys:
    aead: aead.Aead
    streaming: streaming_aead.StreamingAead
    aead_primary: int
    streaming_primary: int
    aead_ids: frozenset[int]
    streaming_ids: frozenset[int]


_cache: dict[str, tuple[float, Keys]] = {}
_lock = threading.Lock()


def _keys_from_row(row) -> Keys:
    scope = row.scope
    aead_handle = _unwrap(row.aead_keyset, scope, "aead")
    streaming_handle = _unwrap(row.streaming_keyset, scope, "streaming")
    aead_info, streaming_info = aead_handle.keyset_info(), streaming_handle.keyset_info()
    return Keys(
        aead=aead_handle.primitive(aead.Aead),
        streaming=streaming_handle.primitive(streaming_aead.StreamingAead),
        aead_primary=aead_info.primary_key_id,
        streaming_primary=streaming_info.primary_key_id,
        aead_ids=frozenset(k.key_id for k in aead_info.key_info),
        streaming_ids=frozenset(k.key_id for k in streaming_info.key_info),
    )


def keys_for(organization_id: int | None, *, fresh: bool = False) -> Keys:
    """The data keysets of an organization (None: the site's, for sessions), made on first use.

    Cached in the process for KEYSET_CACHE_SECONDS; `fresh` reads them again. A keyset made inside a
    transaction is shared with other threads only once that transaction commits, and its own thread uses it
    only while that transaction (or savepoint) is alive, so a rolled-back keyset never encrypts anything.
    """
    from madoguchi.organizations.models import DataKey

    scope = _scope(organization_id)
    now = time.monotonic()
    if not fresh:
        cached = _cache.get(scope)
        if cached is not None and now - cached[0] < KEYSET_CACHE_SECONDS:
            return cached[1]
        if (pending := _pending_keys(scope)) is not None:
            return pending
    row = DataKey.objects.filter(scope=scope).first()
    if row is None:
        row = _create(DataKey, organization_id, scope)
        keys = _keys_from_row(row)
        if row.created_here:

            def committed() -> None:
                getattr(_pending, "keys", {}).pop(scope, None)
                _remember(scope, keys)

            # Until the commit, only this thread's transaction sees the row: kept for it alone, beside the
            # on-commit callback that proves the transaction is still alive (Django drops the callbacks of a
            # transaction or savepoint that rolls back).
            transaction.on_commit(committed)
            _pending.keys = {**getattr(_pending, "keys", {}), scope: (committed, keys)}
        else:
            _remember(scope, keys)
        return keys
    keys = _keys_from_row(row)
    if not (connection.in_atomic_block and _pending_keys(scope) is not None):
        _remember(scope, keys)  # a committed row (a pending one is cached when its transaction commits)
    return keys


_pending = threading.local()  # {scope: (on-commit callback, Keys)} made by this thread, not yet committed


def _pending_keys(scope: str) -> Keys | None:
    """This thread's keyset of `scope` made in a transaction still open, or None (none, or rolled back)."""
    entry = getattr(_pending, "keys", {}).get(scope)
    if entry is None:
        return None
    callback, keys = entry
    if any(registered[1] is callback for registered in connection.run_on_commit):
        return keys
    _pending.keys.pop(scope, None)  # rolled back: never used again
    return None


def _remember(scope: str, keys: Keys) -> None:
    with _lock:
        _cache[scope] = (time.monotonic(), keys)


def forget_cached_keys() -> None:
    """Drop every cached keyset and the master keyset (tests, and after rotate_keys in the same process)."""
    with _lock:
        _cache.clear()
    _pending.keys = {}
    master_aead.cache_clear()


def _create(model, organization_id: int | None, scope: str):
    row = model(
        organization_id=organization_id,
        scope=scope,
        aead_keyset=_wrap(tink.new_keyset_handle(AEAD_TEMPLATE), scope, "aead"),
        streaming_keyset=_wrap(tink.new_keyset_handle(STREAMING_TEMPLATE), scope, "streaming"),
        master_key_id=master_primary_id(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # made meanwhile by another process: use that one
        other = model.objects.get(scope=scope)
        other.created_here = False
        return other
    row.created_here = True
    return row


def add_primary_keys(row) -> None:
    """Add a new primary key to both of `row`'s keysets (the old keys stay, for reading). Saves the row."""
    scope = row.scope
    row.aead_keyset = _wrap(_with_new_primary(_unwrap(row.aead_keyset, scope, "aead")), scope, "aead")
    row.streaming_keyset = _wrap(
        _with_new_primary(_unwrap(row.streaming_keyset, scope, "streaming")), scope, "streaming"
    )
    row.master_key_id = master_primary_id()
    row.save(update_fields=["aead_keyset", "streaming_keyset", "master_key_id", "rotated_at"])


def rewrap(row) -> None:
    """Wrap `row`'s keysets again under the master keyset's primary key (the data keys do not change, so
    nothing encrypted with them needs rewriting). Saves the row."""
    scope = row.scope
    row.aead_keyset = _wrap(_unwrap(row.aead_keyset, scope, "aead"), scope, "aead")
    row.streaming_keyset = _wrap(_unwrap(row.streaming_keyset, scope, "streaming"), scope, "streaming")
    row.master_key_id = master_primary_id()
    row.save(update_fields=["aead_keyset", "streaming_keyset", "master_key_id", "rotated_at"])


# Answers (JSON) -------------------------------------------------------------------------------------------


def _answers_ad(organization_id: int, kind: str) -> bytes:
    return f"madoguchi:{kind}:{organization_id}".encode()


def encrypt_json(
    organization_id: int, value: Any, *, kind: str = "answers", keys: Keys | None = None
) -> dict:
    """{"format": 2, "enc": base64 text} holding `value` as JSON, encrypted with the organization's primary
    AEAD key; `kind` ("answers" or "draft") is bound into the ciphertext. `keys`: the organization's
    keys_for(), read beforehand by a caller that cannot let this query the database (during a COPY)."""
    plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    keys = keys or keys_for(organization_id)
    ciphertext = keys.aead.encrypt(plaintext, _answers_ad(organization_id, kind))
    return {"format": ANSWERS_FORMAT, "enc": base64.b64encode(ciphertext).decode("ascii")}


def is_encrypted(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == ANSWERS_FORMAT and "enc" in data


def decrypt_json(organization_id: int, data: dict, *, kind: str = "answers") -> Any:
    """The value encrypt_json stored. Raises KeyUnavailable when no key of the organization opens it."""
    ciphertext = base64.b64decode(data["enc"])
    associated = _answers_ad(organization_id, kind)
    keys = keys_for(organization_id)
    if _prefix_id(ciphertext) not in keys.aead_ids:  # a key added since this process cached the keyset
        keys = keys_for(organization_id, fresh=True)
    try:
        return json.loads(keys.aead.decrypt(ciphertext, associated))
    except tink.TinkError as exc:
        raise KeyUnavailable(f"answers of organization {organization_id} do not decrypt") from exc


def _prefix_id(ciphertext: bytes) -> int | None:
    # Tink's output prefix: version byte 0x01, then the key id (4 bytes, big-endian).
    if len(ciphertext) < 5 or ciphertext[0] != 1:
        return None
    return int.from_bytes(ciphertext[1:5], "big")


def answers_key_id(data: Any) -> int | None:
    """The key that encrypted stored answers; None for answers stored before encryption existed."""
    if not is_encrypted(data):
        return None
    return _prefix_id(base64.b64decode(data["enc"]))


# Files ----------------------------------------------------------------------------------------------------


def _file_ad(organization_id: int) -> bytes:
    return f"madoguchi:file:{organization_id}".encode()


class _Keep(IO[bytes]):
    """A file object Tink's stream may close without closing the underlying temporary file."""

    def __init__(self, raw):
        self._raw = raw

    def write(self, data):
        return self._raw.write(data)

    def read(self, size=-1):
        return self._raw.read(size)

    def readinto(self, buffer):
        return self._raw.readinto(buffer)

    def close(self):
        pass

    @property
    def closed(self):
        return False

    def flush(self):
        self._raw.flush()

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return False


def encrypted_file(organization_id: int, source: IO[bytes]) -> IO[bytes]:
    """A temporary file holding `source` (read from its start) encrypted for the organization, positioned
    at 0; the caller saves it to storage and closes it. Memory stays flat: Tink encrypts in 1 MB segments."""
    keys = keys_for(organization_id)
    spool = tempfile.TemporaryFile()
    spool.write(FILE_MAGIC + keys.streaming_primary.to_bytes(4, "big"))
    if hasattr(source, "seek"):
        source.seek(0)
    with keys.streaming.new_encrypting_stream(_Keep(spool), _file_ad(organization_id)) as stream:
        shutil.copyfileobj(source, stream, 1024 * 1024)
    spool.seek(0)
    return spool


def open_file(organization_id: int, storage, name: str) -> IO[bytes]:
    """A readable file object of the stored file's plaintext. Raises FileNotFoundError (or the storage's
    OSError) when the file is gone, KeyUnavailable when its key is unknown. The caller closes it."""
    stored = storage.open(name, "rb")
    header = stored.read(_FILE_HEADER)
    if not header.startswith(FILE_MAGIC):  # stored before encryption existed
        stored.seek(0)
        return stored
    key_id = int.from_bytes(header[len(FILE_MAGIC) :], "big")
    keys = keys_for(organization_id)
    if key_id not in keys.streaming_ids:
        keys = keys_for(organization_id, fresh=True)
        if key_id not in keys.streaming_ids:
            stored.close()
            raise KeyUnavailable(f"file of organization {organization_id}: key {key_id} unknown")
    return _Decrypting(keys.streaming.new_decrypting_stream(stored, _file_ad(organization_id)), stored)


class _Decrypting:
    """Tink's decrypting stream with the stored file closed with it; iterable in chunks (FileResponse)."""

    block_size = 64 * 1024

    def __init__(self, stream, stored):
        self._stream = stream
        self._stored = stored

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except tink.TinkError as exc:
            raise KeyUnavailable("a stored file does not decrypt (changed or cut short)") from exc

    def __iter__(self):
        while chunk := self.read(self.block_size):
            yield chunk

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._stored.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def file_key_id(storage, name: str) -> int | None:
    """The streaming key a stored file was encrypted with; None for a file stored before encryption."""
    with storage.open(name, "rb") as stored:
        header = stored.read(_FILE_HEADER)
    if not header.startswith(FILE_MAGIC):
        return None
    return int.from_bytes(header[len(FILE_MAGIC) :], "big")


# Texts (staff notes, messages) ---------------------------------------------------------------------------

_TEXT_PREFIX = "e2:"


def encrypt_text(organization_id: int, text: str, *, kind: str) -> str:
    """ "e2:" and base64 of `text` encrypted with the organization's AEAD key, `kind` ("note", "message")
    bound in: for a text column that must hold no personal data in clear."""
    keys = keys_for(organization_id)
    ciphertext = keys.aead.encrypt(text.encode(), _answers_ad(organization_id, kind))
    return _TEXT_PREFIX + base64.b64encode(ciphertext).decode("ascii")


def decrypt_text(organization_id: int, stored: str, *, kind: str) -> str:
    """The text encrypt_text stored; text without the prefix is returned as it is (a row written before
    texts were encrypted and not yet migrated). Raises KeyUnavailable when no key of the organization opens
    it."""
    if not stored.startswith(_TEXT_PREFIX):
        return stored
    ciphertext = base64.b64decode(stored[len(_TEXT_PREFIX) :])
    keys = keys_for(organization_id)
    if _prefix_id(ciphertext) not in keys.aead_ids:
        keys = keys_for(organization_id, fresh=True)
    try:
        return keys.aead.decrypt(ciphertext, _answers_ad(organization_id, kind)).decode()
    except tink.TinkError as exc:
        raise KeyUnavailable(f"a {kind} of organization {organization_id} does not decrypt") from exc


def text_key_id(stored: str) -> int | None:
    """The key that encrypted a stored text; None for one in clear."""
    if not stored.startswith(_TEXT_PREFIX):
        return None
    return _prefix_id(base64.b64decode(stored[len(_TEXT_PREFIX) :]))


# Sessions -------------------------------------------------------------------------------------------------


def encrypt_session(text: str) -> str:
    keys = keys_for(None)
    return _SESSION_PREFIX + base64.b64encode(keys.aead.encrypt(text.encode(), b"madoguchi:session")).decode()


def decrypt_session(text: str) -> str | None:
    """The session's encoded text; None when it does not decrypt (treated as no session, as Django treats a
    session whose signature fails). Text without the prefix was stored before encryption: returned as is."""
    if not text.startswith(_SESSION_PREFIX):
        return text
    try:
        ciphertext = base64.b64decode(text[len(_SESSION_PREFIX) :])
    except ValueError:
        return None
    keys = keys_for(None)
    if _prefix_id(ciphertext) not in keys.aead_ids:
        keys = keys_for(None, fresh=True)
    try:
        return keys.aead.decrypt(ciphertext, b"madoguchi:session").decode()
    except tink.TinkError:
        return None
