"""The web interface in a real browser: Debian's headless Chromium, driven by selenium through
chromedriver, against `govcat serve`'s app on a free loopback port.

A reviewer logs in, opens a mixture, opens its review, reads a finding's evidence and follows
it to the source, signs off, and finds the sign-off in the audit log under their name.
Screenshots of each step are kept in the test's tmp dir. Without chromium the test skips
locally and fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from tests.catalog import test_mixtures
from tests.catalog.test_mixtures import _create
from tests.catalog.test_web import PASSWORD
from tests.support import free_port

corpus = test_mixtures.corpus  # three sources, hosts and releases (clean, nc, sa)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1360,1800")


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) or shutil.which(p))]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)



@pytest.fixture
def server(catalog):
    """`govcat serve`'s app in a thread on 127.0.0.1, with a reviewer account; its base URL."""
    import uvicorn

    from catalog.services import users
    from catalog.web.app import create_app

    with catalog.uow() as uow:
        users.add_user(uow, name="rex", role="reviewer", password=PASSWORD)
        uow.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(catalog, secret_key="b" * 48),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_reviewer_reads_the_evidence_signs_off_and_sees_the_audit_event(
        cli, corpus, server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = tmp_path / "screenshots"
    shots.mkdir()

    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def navigate(element) -> None:
        """Click what loads a new page and wait until the old one is gone, so nothing below
        reads an element of the page being left (a stale element)."""
        page = browser.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(browser, 20).until(expected_conditions.staleness_of(page))

    def shot(name: str) -> None:
        browser.execute_script("window.scrollTo(0, 0)")
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1360, max(900, min(int(height) + 40, 6000)))
        assert browser.save_screenshot(str(shots / f"{name}.png"))

    _create(cli, "m", "clean:1", "sa@1.0.0:2")  # share-alike under commercial use
    browser.get(f"{server}/mixtures/m")
    assert "/login" in browser.current_url  # nothing without a login
    shot("1-login")
    browser.find_element(By.NAME, "username").send_keys("rex")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    navigate(browser.find_element(By.CSS_SELECTOR, "form.login button"))
    assert browser.current_url == f"{server}/mixtures/m"
    assert "sa@1.0.0" in browser.find_element(By.TAG_NAME, "main").text
    shot("2-mixture")

    navigate(browser.find_element(By.LINK_TEXT, "Open the compliance review"))
    main = browser.find_element(By.TAG_NAME, "main")
    assert "Verdict needs-attention" in main.text
    finding = browser.find_element(By.CSS_SELECTOR, "li.finding.effect-needs-attention")
    assert "sa@1.0.0" in finding.text
    evidence = finding.find_element(By.CSS_SELECTOR, "details.evidence")
    assert not evidence.find_element(By.CSS_SELECTOR, "li.evidence-item").is_displayed()
    evidence.find_element(By.TAG_NAME, "summary").click()
    item = evidence.find_element(By.CSS_SELECTOR, "li.evidence-item")
    assert item.is_displayed() and "CC-BY-SA-4.0" in item.text
    charts = browser.find_elements(By.CSS_SELECTOR, ".charts img")
    assert charts and all(browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", c) for c in charts)
    shot("3-review-with-evidence")

    navigate(item.find_element(By.LINK_TEXT, "source sa"))
    assert browser.current_url == f"{server}/sources/sa"
    assert "CC-BY-SA-4.0" in browser.find_element(By.TAG_NAME, "main").text
    shot("4-evidence-source")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.back()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(page))

    form = browser.find_element(By.CSS_SELECTOR, "form.signoff-form")
    Select(form.find_element(By.NAME, "decision")).select_by_visible_text("approve")
    form.find_element(By.NAME, "note").send_keys("Share-alike accepted: the model card says so.")
    navigate(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.current_url.startswith(f"{server}/mixtures/m")
    signed = browser.find_element(By.ID, "signoff").find_element(By.XPATH, "..").text
    assert "approve by rex" in signed
    shot("5-signed-off")

    navigate(browser.find_element(By.LINK_TEXT, "Audit log"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    newest = rows[0].text
    assert "mixture.sign-off" in newest and "rex" in newest and "mixture:m" in newest
    assert "Chain intact" in browser.find_element(By.TAG_NAME, "main").text
    shot("6-audit")
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-login.png", "2-mixture.png", "3-review-with-evidence.png", "4-evidence-source.png",
        "5-signed-off.png", "6-audit.png"]
