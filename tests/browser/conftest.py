import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium")


def pytest_collection_modifyitems(config, items):
    if CHROMIUM or os.environ.get("MADOGUCHI_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(
        reason="Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM:
        pytest.fail("chromium is required for the browser tests: apt-get install chromium fonts-noto-cjk")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-quic",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # An older, small phone: 360 × 640 CSS pixels.
    return {
        **browser_context_args,
        "viewport": {"width": 360, "height": 640},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "ja-JP",
        "timezone_id": "Asia/Tokyo",
        "accept_downloads": True,
    }


def demo_code(username: str) -> str:
    """A code of the demo admins' authenticator app (load_demo.DEMO_TOTP_KEY) that `username` has not used
    yet: a code is good once, so a second login within the same 30 seconds takes the next step's code."""
    import time

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    step = max(totp.t(), device.last_t + 1)
    if step > totp.t() + 1:  # beyond the tolerance: wait for the clock
        time.sleep((step - 1 - totp.t()) * device.step + 1)
    totp.time = step * device.step + device.t0
    return f"{totp.token():06d}"


def pass_second_factor(page, username: str) -> None:
    """After the password: type the code when the login asks for one (demo admins)."""
    page.wait_for_load_state()
    if "/staff/login/code/" in page.url:
        page.get_by_label("確認コード").fill(demo_code(username))
        page.get_by_role("button", name="確認してログイン").click()


def log_in(page, live_server, username: str) -> None:
    """Log a demo staff member in on `page` (load_demo's password; the second factor where one is asked)."""
    from madoguchi.organizations.management.commands.load_demo import DEMO_PASSWORD

    page.goto(f"{live_server.url}/staff/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_factor(page, username)
