"""ClamAV through clamd (#11 point 6): with CLAMD_ADDRESS set, every upload is scanned; an infected file is
refused at its field with the other answers kept; clamd down, refusing or silent → refused too (fail closed);
unset → no scan. A small clamd on loopback speaks the INSTREAM protocol and finds the EICAR test file."""

import socket
import struct
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from madoguchi.lib import clamd
from madoguchi.submissions.models import StagedUpload
from tests.conftest import make_procedure
from tests.test_upload_checks import SCHEMA, post_form, real_image, refused

pytestmark = pytest.mark.django_db

# The EICAR anti-virus test file (not a virus; every scanner reports it), built so this file does not hold it.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class FakeClamd:
    """clamd's INSTREAM on loopback: reads the chunks, answers FOUND for EICAR, OK otherwise, or an ERROR, or
    nothing at all (to time out), as `mode` says. Records how many bytes each scan received."""

    def __init__(self, mode: str = "scan"):
        self.mode = mode
        self.received: list[int] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\0") or len(data) < 10:
                    data += conn.recv(1)
                assert data == b"zINSTREAM\0"
                body = b""
                while True:
                    (length,) = struct.unpack(">I", self._exactly(conn, 4))
                    if not length:
                        break
                    body += self._exactly(conn, length)
                self.received.append(len(body))
                if self.mode == "silent":
                    threading.Event().wait(5)
                    continue
                if self.mode == "error":
                    conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                elif EICAR in body:
                    conn.sendall(b"stream: Eicar-Signature FOUND\0")
                else:
                    conn.sendall(b"stream: OK\0")

    @staticmethod
    def _exactly(conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise OSError("closed")
            data += part
        return data

    def close(self):
        self.server.close()


@pytest.fixture
def clamd_server(settings):
    server = FakeClamd()
    settings.CLAMD_ADDRESS = server.address
    settings.CLAMD_TIMEOUT = 2
    yield server
    server.close()


def test_a_clean_file_is_scanned_whole_and_taken(clamd_server):
    image = real_image("PNG", size=(800, 600))
    assert refused("写真.png", image) is None
    assert clamd_server.received == [len(image)]


def test_an_infected_file_is_refused_at_its_field_and_the_other_answers_stay(client, tottori, clamd_server):
    procedure = make_procedure(tottori, {**SCHEMA, "fields": [
        {"key": "title", "type": "short_text", "label": "件名", "required": True},
        {"key": "doc", "type": "file", "label": "書類", "allowed_types": ["pdf"]}]}, title="書類の提出")  # fmt: skip
    pdf = b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n"
    upload = SimpleUploadedFile("申請書.pdf", pdf, content_type="application/pdf")
    response = post_form(client, procedure, {"title": "髙橋の申請", "doc": upload}, follow=True)
    page = response.content.decode()
    assert response.status_code == 400 and "ウイルスが見つかったため" in page
    assert 'value="髙橋の申請"' in page and not StagedUpload.objects.exists()


@pytest.mark.parametrize("mode", ["error", "silent", "down"])
def test_clamd_that_cannot_answer_means_the_file_is_refused(settings, mode):
    if mode == "down":  # a port nobody listens on
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            settings.CLAMD_ADDRESS = f"127.0.0.1:{unused.getsockname()[1]}"
        server = None
    else:
        server = FakeClamd(mode)
        settings.CLAMD_ADDRESS = server.address
    settings.CLAMD_TIMEOUT = 1
    message = refused("写真.png", real_image("PNG"))
    assert message and "安全確認がいまできないため" in message
    if server is not None:
        server.close()


def test_without_clamd_configured_nothing_is_scanned(settings):
    settings.CLAMD_ADDRESS = ""
    assert not clamd.configured()
    assert refused("写真.png", real_image("PNG")) is None
