"""Headless Chromium from Debian (chromium + chromium-driver) driven by Selenium, with
bounded explicit waits and screenshots."""

import os
import re

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT_SECONDS = 20


class Browser:
    """One headless Chromium with helpers that wait on conditions, never on time."""

    def __init__(self, base_url, download_dir, shots_dir):
        self.base = base_url.rstrip("/")
        self.shots = shots_dir
        self.download_dir = download_dir
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,900", "--hide-scrollbars", "--lang=en-US",
                    "--force-device-scale-factor=1"):
            opts.add_argument(arg)
        binary = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
        if os.path.exists(binary):
            opts.binary_location = binary
        opts.add_experimental_option("prefs", {
            "download.default_directory": download_dir,
            "download.prompt_for_download": False,
        })
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver_path = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(service=Service(driver_path), options=opts)
        self.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": download_dir})

    def quit(self):
        self.driver.quit()

    def open(self, hash_path):
        """Goes to `#/...` (the first time loading the page)."""
        if self.driver.current_url.startswith(self.base + "/"):
            self.driver.execute_script("location.hash = arguments[0]", hash_path)
        else:
            self.driver.get(f"{self.base}/{hash_path}")

    def wait(self, condition, what, timeout=WAIT_SECONDS):
        """Waits until `condition(driver)` is truthy, failing with `what`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                                 ignored_exceptions=[StaleElementReferenceException]).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; at {self.driver.current_url}"
                f" the page shows:\n{self.page_text()}") from None

    def page_text(self):
        """The visible text of the page, shortened, for failure messages."""
        try:
            text = self.driver.find_element(By.TAG_NAME, "body").text
        except Exception as e:  # the message is best effort
            return f"(no page text: {e})"
        return text if len(text) < 1500 else text[:1500] + "…"

    def find(self, css, timeout=WAIT_SECONDS):
        """The first visible element matching `css`, waiting for it."""
        def present(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if el.is_displayed():
                    return el
            return None
        return self.wait(present, f"element {css}", timeout)

    def text_of(self, css):
        return self.find(css).text

    def wait_text(self, css, expected, timeout=WAIT_SECONDS):
        """Waits until an element matching `css` shows exactly `expected`."""
        def shown(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if el.text == expected:
                    return el
            return None
        return self.wait(shown, f"{css} showing {expected!r}", timeout)

    def form_with_button(self, label):
        """The form whose submit button reads `label`."""
        button = self.wait(
            lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "form button[type=submit]")
                            if b.text == label and b.is_displayed()), None),
            f"a form with a {label!r} button")
        return button.find_element(By.XPATH, "./ancestor::form"), button

    def fill(self, form, name, value):
        el = form.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)

    def button(self, label):
        return self.wait(
            lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button")
                            if b.text == label and b.is_displayed()), None),
            f"a {label!r} button")

    def click_link(self, text, css="a"):
        """Clicks the link showing `text`, retrying when a refresh replaced it meanwhile."""
        def clicked(d):
            try:
                for a in d.find_elements(By.CSS_SELECTOR, css):
                    if a.text == text and a.is_displayed():
                        a.click()
                        return True
            except StaleElementReferenceException:
                return False
            return False
        self.wait(clicked, f"a link {text!r} to click")

    def buttons(self, label):
        return [b for b in self.driver.find_elements(By.TAG_NAME, "button") if b.text == label]

    def toast(self, expected):
        return self.wait_text("#toast.show", expected)

    def screenshot(self, name, top=True):
        """Saves the viewport as `name`.png, scrolled to the top unless `top` is false."""
        os.makedirs(self.shots, exist_ok=True)
        if top:
            self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def alert_open(self):
        try:
            self.driver.switch_to.alert
            return True
        except NoAlertPresentException:
            return False

    def console_problems(self):
        """Console errors that are not an expected API status (CSP violations, exceptions)."""
        out = []
        for entry in self.driver.get_log("browser"):
            msg = entry.get("message", "")
            if entry.get("level") != "SEVERE":
                continue
            if re.search(r"Failed to load resource: the server responded with a status of (401|404)", msg):
                continue
            out.append(msg)
        return out
