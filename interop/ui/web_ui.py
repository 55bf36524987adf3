"""The management web UI in a real browser (headless Chromium via Selenium): log in, see
non-zero rates on the overview after traffic, find one queue among 1,000 by filter, publish
and get a message through the UI, create a user and a policy, download definitions, an XSS
queue name and payload shown as text, and a monitoring user without write controls. Saves a
screenshot of each page to ui/screenshots/ (or $UI_SCREENSHOT_DIR).

Reads MGMT_URL and AMQP_URI. Everything it creates is named ui-... (and the XSS queue) and is
deleted at the end."""

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pika
from selenium.webdriver.common.by import By

from uitest.api import Api, q
from uitest.browser import Browser
from uitest.traffic import Traffic

MGMT = os.environ.get("MGMT_URL", "http://localhost:15672")
AMQP = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/%2F")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("UI_SCREENSHOT_DIR", str(ROOT / "ui" / "screenshots"))
QUEUES = 1000
TARGET = "ui-q-0421"
XSS = "<img src=x onerror=alert(1)>"
XSS_BODY = "<script>alert(2)</script><b>not bold</b>"
USER = "ui-monitor"
POLICY = "ui-policy"
OP_POLICY = "ui-op-policy"

api = Api(MGMT)


def step(msg):
    print(f"-- {msg}", flush=True)


def rate_value(text):
    """'12.5/s' → 12.5 (thousands separators allowed); anything else → 0."""
    m = re.match(r"^([\d,]+(?:\.\d+)?)/s$", text.strip())
    return float(m.group(1).replace(",", "")) if m else 0.0


def declare_queues():
    conn = pika.BlockingConnection(pika.URLParameters(AMQP))
    ch = conn.channel()
    for i in range(QUEUES):
        ch.queue_declare(f"ui-q-{i:04d}")
    ch.queue_declare(XSS)
    ch.basic_publish("", XSS, XSS_BODY.encode())
    conn.close()


def delete_everything():
    try:
        conn = pika.BlockingConnection(pika.URLParameters(AMQP))
        ch = conn.channel()
        for i in range(QUEUES):
            ch.queue_delete(f"ui-q-{i:04d}")
        for name in (XSS, "ui-traffic"):
            ch.queue_delete(name)
        conn.close()
    except Exception as e:  # cleanup must not hide the real result
        print(f"cleanup: {e}")
    api.delete(f"/api/users/{USER}")
    api.delete(f"/api/policies/%2F/{POLICY}")
    api.delete(f"/api/operator-policies/%2F/{OP_POLICY}")
    api.delete("/api/topic-permissions/%2F/guest")
    api.delete("/api/vhost-limits/%2F/max-queues")


def login(b, user, password):
    b.open("#/login")
    form, button = b.form_with_button("Log in")
    b.fill(form, "username", user)
    b.fill(form, "password", password)
    button.click()
    b.wait_text("h1", "Overview")


def overview_rates(b, traffic):
    step("overview shows non-zero rates after traffic")
    b.open("#/")
    b.find("#rate-publish")

    def nonzero(_d):
        if traffic.error:
            raise AssertionError(f"traffic failed: {traffic.error}")
        texts = {k: b.text_of(f"#rate-{k}") for k in ("publish", "deliver", "ack", "unroutable")}
        return texts if all(rate_value(t) > 0 for t in texts.values()) else None

    texts = b.wait(nonzero, "non-zero publish, deliver, ack and unroutable rates", timeout=45)
    print(f"   rates: {texts}")
    # The charts load the last ten minutes from the API's samples (one point per 5 s) at once.
    b.wait(lambda d: all(int(c.get_attribute("data-points") or 0) >= 100
                         for c in d.find_elements(By.CSS_SELECTOR, ".chart")),
           "ten minutes of sampled points on both charts")
    b.screenshot("overview")


def find_queue(b):
    step(f"find {TARGET} among {QUEUES} queues by filter and open it")
    b.open("#/queues")
    b.find("input[type=search]")
    total = b.wait(lambda d: re.search(r"of ([\d,]+)", b.text_of(".count")), "the queue count")
    assert int(total.group(1).replace(",", "")) >= QUEUES, total.group(0)
    step("sort by name, descending, then back to ascending with the back button")
    b.find("button.sort[data-sort=name]").click()
    b.wait(lambda d: "sort=name" in d.current_url, "sort=name in the URL")
    b.find("button.sort[data-sort=name]").click()
    b.wait(lambda d: "rev=1" in d.current_url, "rev=1 in the URL")
    focused = b.driver.execute_script("return document.activeElement.dataset.sort")
    assert focused == "name", f"focus stays on the sort button, not {focused!r}"

    def names(d):
        # One script call, so a refresh cannot replace the rows halfway through reading them.
        return d.execute_script(
            "return [...document.querySelectorAll('table.data tbody td:nth-child(2) a')]"
            ".map((a) => a.textContent)")

    b.wait(lambda d: len(names(d)) > 2 and names(d) == sorted(names(d), reverse=True), "descending names")
    b.driver.back()
    b.wait(lambda d: "rev=1" not in d.current_url and "sort=name" in d.current_url, "the previous URL")
    b.wait(lambda d: len(names(d)) > 2 and names(d) == sorted(names(d)), "ascending names again")
    search = b.find("input[type=search]")
    search.send_keys("ui-q-04")
    b.wait(lambda d: b.text_of(".count").startswith("1–100 of 100"), "100 queues matching ui-q-04")
    b.screenshot("queues")
    search.send_keys("21")
    b.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.data tbody tr")) == 1
           and b.text_of(".count").startswith("1–1 of 1"), "exactly one matching row")
    assert "name=ui-q-0421" in b.driver.current_url, b.driver.current_url
    b.click_link(TARGET)
    b.wait_text("#object-name", TARGET)


def publish_and_get(b):
    step("publish and get a message through the UI")
    body = "hello from the web UI: <b>é</b> & more"
    form, button = b.form_with_button("Publish message")
    b.fill(form, "payload", body)
    b.fill(form, "properties", '{"content_type": "text/plain", "message_id": "ui-1"}')
    button.click()
    b.toast("Message published.")
    b.wait(lambda d: (api.get(f"/api/queues/%2F/{TARGET}")[1] or {}).get("messages") == 1,
           "the queue to hold the published message")
    form, button = b.form_with_button("Get message(s)")
    b.fill(form, "ackmode", "ack_requeue_false")
    button.click()
    payload = b.wait_text("pre.payload", body)
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", payload)
    b.screenshot("queue-get", top=False)
    page = b.driver.find_element(By.CSS_SELECTOR, "main").text
    assert "ui-1" in page and "text/plain" in page, "properties shown"
    b.wait(lambda d: (api.get(f"/api/queues/%2F/{TARGET}")[1] or {}).get("messages") == 0,
           "automatic ack to take the message off the queue")
    b.screenshot("queue")


def create_user(b):
    step("create a user through the UI")
    b.open("#/users")
    form, button = b.form_with_button("Add user")
    b.fill(form, "name", USER)
    b.fill(form, "password", "ui-secret-pw")
    b.fill(form, "tags", "monitoring")
    button.click()
    b.toast("User added.")
    status, user = api.get(f"/api/users/{USER}")
    assert status == 200, (status, user)
    tags = user["tags"] if isinstance(user["tags"], list) else user["tags"].split(",")
    assert tags == ["monitoring"], user
    b.wait(lambda d: d.find_elements(By.LINK_TEXT, USER), "the new user in the list")
    assert "ui-secret-pw" not in b.driver.page_source, "a password is never shown"
    b.screenshot("users")
    b.click_link(USER)
    b.wait_text("#object-name", USER)
    form, button = b.form_with_button("Set permission")
    b.fill(form, "configure", "^$")
    b.fill(form, "write", "^$")
    button.click()
    b.toast("Permission set.")
    status, perm = api.get(f"/api/permissions/%2F/{USER}")
    assert status == 200 and perm["configure"] == "^$" and perm["read"] == ".*", (status, perm)
    b.screenshot("user")


def create_policy(b):
    step("create a policy through the UI")
    b.open("#/policies")
    form, button = b.form_with_button("Save policy")
    b.fill(form, "vhost", "/")
    b.fill(form, "name", POLICY)
    b.fill(form, "pattern", "^ui-q-")
    b.fill(form, "apply-to", "queues")
    b.fill(form, "priority", "3")
    b.fill(form, "definition", '{"max-length": 1000}')
    button.click()
    b.toast("Policy saved.")
    status, policy = api.get(f"/api/policies/%2F/{POLICY}")
    assert status == 200, (status, policy)
    assert policy["pattern"] == "^ui-q-" and policy["apply-to"] == "queues", policy
    assert policy["priority"] == 3 and policy["definition"] == {"max-length": 1000}, policy
    b.wait(lambda d: POLICY in d.find_element(By.CSS_SELECTOR, "table.data").text, "the policy listed")
    b.screenshot("policies")


def operator_policy(b):
    step("create an operator policy through the UI")
    b.open("#/operator-policies")
    form, button = b.form_with_button("Save policy")
    b.fill(form, "vhost", "/")
    b.fill(form, "name", OP_POLICY)
    b.fill(form, "pattern", "^ui-q-")
    b.fill(form, "apply-to", "queues")
    b.fill(form, "definition", '{"max-length": 5000}')
    button.click()
    b.toast("Policy saved.")
    status, policy = api.get(f"/api/operator-policies/%2F/{OP_POLICY}")
    assert status == 200 and policy["definition"] == {"max-length": 5000}, (status, policy)
    b.wait(lambda d: OP_POLICY in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the operator policy listed")
    b.screenshot("operator-policies")


def topic_permission(b):
    step("set a topic permission through the UI")
    b.open("#/topic-permissions")
    form, button = b.form_with_button("Set topic permission")
    b.fill(form, "user", "guest")
    b.fill(form, "vhost", "/")
    b.fill(form, "exchange", "amq.topic")
    b.fill(form, "write", "^ui\\.")
    b.fill(form, "read", ".*")
    button.click()
    b.toast("Topic permission set.")
    status, perms = api.get("/api/topic-permissions/%2F/guest")
    assert status == 200 and any(p["exchange"] == "amq.topic" and p["write"] == "^ui\\."
                                 for p in perms), (status, perms)
    b.wait(lambda d: "amq.topic" in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the topic permission listed")
    b.screenshot("topic-permissions")


def vhost_limit(b):
    step("set a vhost limit through the UI")
    b.open("#/limits")
    form, button = b.form_with_button("Set limit")
    b.fill(form, "owner", "/")
    b.fill(form, "name", "max-queues")
    b.fill(form, "value", "5000")
    button.click()
    b.toast("Virtual host limit set.")
    status, limits = api.get("/api/vhost-limits/%2F")
    assert status == 200 and limits and limits[0]["value"].get("max-queues") == 5000, (status, limits)
    b.wait(lambda d: "max-queues" in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the vhost limit listed")
    b.screenshot("limits")


def requests_made(b):
    return int(b.driver.execute_script("return document.documentElement.dataset.apiRequests || '0'"))


def set_visibility(b, state):
    """Makes the page report `state` ('hidden' or 'visible') and tells it, as the browser
    does when the tab is switched."""
    b.driver.execute_script(
        "const s = arguments[0];"
        "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => s});"
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => s === 'hidden'});"
        "document.dispatchEvent(new Event('visibilitychange'));", state)


def refresh_pauses_when_hidden(b):
    step("refreshing pauses while the tab is hidden and resumes when shown")
    b.open("#/")
    b.find("#rate-publish")
    start = requests_made(b)
    b.wait(lambda d: requests_made(b) >= start + 6, "the overview to refresh twice")
    set_visibility(b, "hidden")
    b.wait(lambda d: d.execute_script("return document.documentElement.dataset.refresh") == "paused",
           "the refresher to pause")
    paused_at = requests_made(b)
    # Two of the page's own refresh intervals (2 s) pass: each would have refreshed.
    b.driver.set_script_timeout(30)
    b.driver.execute_async_script("setTimeout(arguments[arguments.length - 1], 2 * 2000 + 500)")
    assert requests_made(b) == paused_at, f"{requests_made(b) - paused_at} API calls while hidden"
    set_visibility(b, "visible")
    b.wait(lambda d: requests_made(b) > paused_at, "a refresh as soon as the tab shows again")
    b.wait(lambda d: d.execute_script("return document.documentElement.dataset.refresh") == "scheduled",
           "the refresher to run on its interval again")


def download_definitions(b, download_dir):
    status, _ = api.get("/api/definitions")
    assert status == 200, status
    b.open("#/definitions")
    b.find("h1")
    b.screenshot("definitions")
    step("download definitions")
    b.button("Download definitions").click()

    def downloaded(_d):
        files = [f for f in glob.glob(os.path.join(download_dir, "*.json"))]
        return files[0] if files else None

    path = b.wait(downloaded, "the definitions file to download")
    with open(path, encoding="utf-8") as f:
        defs = json.load(f)
    names = {x["name"] for x in defs.get("queues", [])}
    assert TARGET in names, sorted(names)[:5]
    assert any(p["name"] == POLICY for p in defs.get("policies", [])), defs.get("policies")
    step("upload definitions")
    api.delete(f"/api/policies/%2F/{POLICY}")
    form, button = b.form_with_button("Upload definitions")
    form.find_element(By.NAME, "file").send_keys(path)
    button.click()
    b.toast("Definitions imported.")
    status, _ = api.get(f"/api/policies/%2F/{POLICY}")
    assert status == 200, "the uploaded definitions restored the policy"


def xss(b):
    step("an XSS queue name and payload show as text")
    b.open("#/queues")
    search = b.find("input[type=search]")
    search.clear()
    search.send_keys("<img")
    b.wait(lambda d: any(a.text == XSS for a in d.find_elements(By.CSS_SELECTOR, "table.data a")),
           "the XSS queue name as text")
    assert not b.driver.find_elements(By.CSS_SELECTOR, "main img"), "no img element injected"
    assert not b.alert_open(), "no alert"
    b.click_link(XSS, "table.data a")
    b.wait_text("#object-name", XSS)
    form, button = b.form_with_button("Get message(s)")
    button.click()
    b.wait_text("pre.payload", XSS_BODY)
    assert not b.driver.find_elements(By.CSS_SELECTOR, "main img, main b, main script:not([src])")
    assert not b.alert_open(), "no alert"
    b.driver.execute_script("document.querySelector('pre.payload').scrollIntoView({block: 'center'})")
    b.screenshot("xss", top=False)
    step("the Content-Security-Policy blocks an injected inline script")
    assert not b.console_problems(), "no console errors before the injection"
    ran = b.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.uiInlineRan = 1';"
        "document.body.append(s); return window.uiInlineRan === 1;")
    assert ran is False, "an inline script ran despite the CSP"
    blocked = b.console_problems()
    assert any("Content Security Policy" in m for m in blocked), blocked


def other_pages(b, traffic):
    step("exchanges, connections, channels, vhosts")
    assert traffic.thread.is_alive(), f"traffic stopped early: {traffic.error!r}"
    for page, shot in (("#/exchanges", "exchanges"), ("#/channels", "channels"), ("#/vhosts", "vhosts")):
        b.open(page)
        b.find("table.data tbody tr")
        b.screenshot(shot)
    b.open("#/exchanges/%2F/amq.direct")
    b.wait_text("#object-name", "amq.direct")
    b.open("#/connections")
    b.wait(lambda d: "ui-traffic" in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the traffic connection's client name")
    b.screenshot("connections")
    row = b.find("table.data tbody tr")
    b.click_link(row.find_element(By.TAG_NAME, "a").text, "table.data a")
    b.find("#object-name")
    b.wait(lambda d: "connection_name" in d.find_element(By.CSS_SELECTOR, "main").text,
           "client properties")
    b.screenshot("connection")
    step("close the traffic connection with a reason, confirming in the dialog")
    form, button = b.form_with_button("Force close")
    b.fill(form, "reason", "ui-test closing")
    button.click()
    b.find("#confirm-ok").click()
    b.wait(lambda d: not any((c.get("client_properties") or {}).get("connection_name") == "ui-traffic"
                             for c in (api.get("/api/connections")[1] or [])),
           "the connection to be gone from the API")
    traffic.thread.join(timeout=20)
    assert "ui-test closing" in repr(traffic.error), f"the client saw {traffic.error!r}"


def monitoring_user(b):
    step("a monitoring user sees queues but gets no write controls")
    b.button("Log out").click()
    b.find("input[name=username]")
    login(b, USER, "ui-secret-pw")
    nav = b.find("#nav").text
    assert "Users" not in nav and "Topic permissions" not in nav, nav
    assert "Operator policies" in nav and "Limits" in nav, nav
    b.open("#/operator-policies")
    b.wait(lambda d: OP_POLICY in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the operator policy, read-only")
    assert not b.buttons("Save policy") and not b.buttons("Delete"), "no operator policy controls"
    b.open("#/limits")
    b.wait(lambda d: "max-queues" in d.find_element(By.CSS_SELECTOR, "table.data").text,
           "the vhost limit, read-only")
    assert not b.buttons("Set limit") and not b.buttons("Clear"), "no limit controls"
    b.open(f"#/queues/%2F/{q(TARGET)}")
    b.wait_text("#object-name", TARGET)
    b.find("#queue-total")
    for label in ("Publish message", "Get message(s)", "Purge messages", "Delete queue", "Bind"):
        assert not b.buttons(label), f"monitoring user sees {label!r}"
    b.button("Log out").click()
    b.find("input[name=username]")


def phone(b):
    step("phone-sized overview")
    login(b, "guest", "guest")
    b.driver.set_window_size(390, 844)
    b.find("#rate-publish")
    b.screenshot("overview-phone")
    b.driver.set_window_size(1280, 900)


def main():
    started = time.monotonic()
    delete_everything()
    declare_queues()
    traffic = Traffic(AMQP, "ui-traffic").start()
    download_dir = tempfile.mkdtemp(prefix="warren-ui-dl-")
    b = Browser(MGMT, download_dir, SHOTS)
    try:
        step("log in")
        b.open("#/")
        b.find("input[name=username]")
        b.screenshot("login")
        login(b, "guest", "guest")
        refresh = b.find("#refresh-interval")
        from selenium.webdriver.support.ui import Select
        Select(refresh).select_by_value("2000")
        overview_rates(b, traffic)
        find_queue(b)
        publish_and_get(b)
        create_user(b)
        create_policy(b)
        operator_policy(b)
        topic_permission(b)
        vhost_limit(b)
        refresh_pauses_when_hidden(b)
        download_definitions(b, download_dir)
        xss(b)
        other_pages(b, traffic)
        monitoring_user(b)
        phone(b)
        problems = b.console_problems()
        assert not problems, f"browser console errors: {problems}"
    finally:
        traffic.stop()
        b.quit()
        delete_everything()
        shutil.rmtree(download_dir, ignore_errors=True)
    print(f"ok ({time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
