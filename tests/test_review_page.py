"""The review page of ``repair serve`` in a real browser: Playwright for Python driving the system
Chromium (``apt-get install chromium``; no browser download). Skipped, with the reason, where either
is missing; ``.ci/run`` installs both.

``REPAIR_SCREENSHOT=1 make test`` (or ``make screenshot``) also writes ``docs/review.png`` from the
real-model test."""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, SPUN_SEED
from repair.doc import Edit, apply_edits

sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (pip install playwright)")
CHROMIUM = os.environ.get("REPAIR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("needs the system Chromium (apt-get install chromium, or REPAIR_CHROMIUM=/path/to/chrome)",
                allow_module_level=True)

# as the device notes say: no first-run work, no background connections on a closed network
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


class Served:
    """The app on a free localhost port, in a thread, for one test module."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d/" % self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.05)
            assert self.thread.is_alive(), "the server did not start"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    sync_api.expect(page.locator("#status")).to_have_text("Ready.", timeout=120_000)
    return page, errors


def submit(page, text: str, timeout: float = 30_000) -> None:
    page.fill("#input", text)
    page.click("#run")
    sync_api.expect(page.locator("#review")).to_be_visible(timeout=timeout)


def exported(page, button: str) -> str:
    with page.expect_download() as d:
        page.click(button)
    return Path(d.value.path()).read_text(encoding="utf-8")


def keys(page, sequence: str) -> None:
    for k in sequence:
        page.keyboard.press(k)


# -- with the stub repairer of the API tests (fast) ------------------------------------------
def stub_app():
    from tests.test_server import Stub

    from repair.server import create_app

    return create_app(lambda: Stub(), background=False)


STUB_TEXT = ("👍🏽 Blinken got here. Then he got here again, naïve 🇰🇿. A clean one. "
             "They got here at noon. We got here too. ")


@pytest.fixture(scope="module")
def stub_server():
    with Served(stub_app()) as s:
        yield s


def test_the_page_reviews_with_the_keyboard_and_exports_exactly_the_accepted_edits(browser, stub_server):
    """Offsets count code points (emoji, flags and combining marks before the edits), so the export
    is the input with exactly the accepted and changed edits applied, character for character."""
    from tests.test_server import Stub

    page, errors = open_page(browser, stub_server.url)
    submit(page, STUB_TEXT)
    edits = Stub().fix(STUB_TEXT).edits
    assert len(edits) == 4
    assert page.locator(".edit").count() == 4
    assert page.locator(".edit del").first.text_content() == "got here"
    assert page.locator(".edit .conf").first.text_content() == "90%"
    assert page.locator(".sent").count() == len(Stub().check(STUB_TEXT).sentences)
    # accept, reject, change (e, type, Enter: it moves on), back with k and on with j, accept
    keys(page, "ar")
    page.keyboard.press("e")
    page.locator(".edit input").fill("arrived")
    page.keyboard.press("Enter")
    keys(page, "kja")
    assert page.locator("#counts").text_content() == "3 accepted · 1 rejected · 0 pending"
    want = apply_edits(STUB_TEXT, [edits[0], Edit(edits[2].start, edits[2].end, edits[2].before, "arrived", 0.9), edits[3]])
    assert exported(page, "#download") == want
    report = json.loads(exported(page, "#report"))
    assert [e["decision"] for e in report["edits"]] == ["accepted", "rejected", "changed", "accepted"]
    assert [(e["start"], e["end"], e["before"]) for e in report["edits"]] == [(e.start, e.end, e.before) for e in edits]
    assert report["edits"][2]["text"] == "arrived" and report["summary"]["pending"] == 0
    assert report["signature"] == str(Stub().fix(STUB_TEXT).signature)
    # u puts an edit back to pending: it leaves the export
    keys(page, "k")  # the last edit stays current after its decision: k is the changed one
    page.keyboard.press("u")
    assert exported(page, "#download") == apply_edits(STUB_TEXT, [edits[0], edits[3]])
    assert not errors


def test_accept_above_a_confidence_and_reject_the_rest(browser, stub_server):
    from tests.test_server import Stub

    page, errors = open_page(browser, stub_server.url)
    submit(page, STUB_TEXT)
    page.keyboard.press("r")  # the first is rejected by hand; the slider only takes pending edits
    page.locator("#level").fill("95")
    page.click("#accept-above")  # the stub's edits are 90% sure: none reaches 95%
    assert exported(page, "#download") == STUB_TEXT
    page.locator("#level").fill("90")
    page.click("#accept-above")
    edits = Stub().fix(STUB_TEXT).edits
    assert exported(page, "#download") == apply_edits(STUB_TEXT, edits[1:])
    assert page.locator("#counts").text_content() == "3 accepted · 1 rejected · 0 pending"
    page.click("#back")
    submit(page, "Nothing to see here. ")
    page.click("#reject-rest")
    assert exported(page, "#download") == "Nothing to see here. "
    assert not errors


def test_errors_reach_the_page_as_one_line(browser, stub_server):
    page, _ = open_page(browser, stub_server.url)
    page.click("#run")
    sync_api.expect(page.locator("#status")).to_have_text("Paste a text or open a file first.")
    page.fill("#input", "x" * 50_001)  # over the stub's size limit
    page.click("#run")
    sync_api.expect(page.locator("#status.error")).to_contain_text("too large")
    assert page.locator("#review").is_hidden()


def test_with_a_token_the_page_loads_and_sends_it(browser):
    from tests.test_server import Stub

    from repair.server import create_app

    with Served(create_app(lambda: Stub(), token="s3cret", background=False)) as s:
        page, errors = open_page(browser, s.url)
        page.fill("#input", "He got here. ")
        page.click("#run")
        sync_api.expect(page.locator("#status.error")).to_contain_text("token")
        page.fill("#token", "s3cret")
        page.click("#run")
        sync_api.expect(page.locator("#review")).to_be_visible()
        assert exported(page, "#download") == "He got here. "
        assert not errors


# -- with the real models ------------------------------------------------------------------
@pytest.mark.model
def test_the_spun_seed_article_reviewed_in_the_browser(browser, repairer, seed_results):
    """The spun seed article, as a person would review it: open the file, fix, accept some edits and
    reject others with the keyboard, export; the export is the input with exactly those edits."""
    from repair.server import create_app

    path = SEEDS / f"{SPUN_SEED}.txt"
    text = path.read_text(encoding="utf-8")
    want = seed_results[SPUN_SEED]
    assert len(want.edits) >= 10
    with Served(create_app(lambda: repairer, background=False)) as s:
        page, errors = open_page(browser, s.url)
        page.set_input_files("#file", str(path))
        sync_api.expect(page.locator("#status")).to_have_text(f"Opened {path.name}.")
        page.click("#run")
        sync_api.expect(page.locator("#review")).to_be_visible(timeout=300_000)
        assert page.locator(".edit").count() == len(want.edits)
        assert page.locator(".sent").count() == len(want.sentences)
        keys(page, "aarjaar")  # 0, 1 accepted; 2 rejected; 3 skipped; 4, 5 accepted; 6 rejected
        accepted = [want.edits[i] for i in (0, 1, 4, 5)]
        assert exported(page, "#download") == apply_edits(text, accepted)
        report = json.loads(exported(page, "#report"))
        assert [e["decision"] for e in report["edits"][:8]] == ["accepted", "accepted", "rejected", "pending",
                                                                 "accepted", "accepted", "rejected", "pending"]
        assert report["signature"] == str(want.signature)
        if os.environ.get("REPAIR_SCREENSHOT"):
            page.locator(".edit").nth(7).click()
            page.screenshot(path=str(ROOT / "docs" / "review.png"))
        assert not errors
