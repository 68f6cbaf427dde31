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
