"""Screenshots a Superset chart as a person sees it: headless Chromium (Debian's chromium and
chromium-driver, driven by the selenium that Superset itself depends on) logs in through Superset's
login form, opens the chart in Explore, waits until the chart has drawn and
stopped moving, and saves a PNG. Fails if the page shows an error instead of a chart.
"""

import argparse
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def fail(driver, message):
    print(f"FAILED: {message}", file=sys.stderr)
    print(f"   page: {driver.current_url}\n   text: {driver.find_element(By.TAG_NAME, 'body').text[:1000]}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--superset", required=True)
    parser.add_argument("--path", required=True, help="the page to capture, e.g. /explore/?slice_id=1")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    base = args.superset.rstrip("/")

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--window-size=1400,900", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    # An explicit chromedriver: selenium then does not try to download one.
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, args.timeout)
        driver.get(f"{base}/login/")
        wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        password = driver.find_element(By.NAME, "password")
        password.send_keys("admin")
        password.send_keys(Keys.ENTER)
        try:
            wait.until(lambda d: "/login" not in d.current_url)
        except TimeoutException:
            fail(driver, "the login form did not log in")

        driver.get(f"{base}{args.path}")
        # The chart is drawn (ECharts paints a canvas) or Superset shows an error.
        errors = ".ant-alert-error, [data-test='error-tooltip'], .error-message, .alert-danger"
        try:
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f".chart-container canvas, {errors}"))
        except TimeoutException:
            fail(driver, "no chart (canvas) appeared")
        if driver.find_elements(By.CSS_SELECTOR, errors):
            fail(driver, "Superset shows an error instead of the chart")
        # Wait for the bars' animation to finish: two identical screenshots in a row.
        deadline = time.monotonic() + args.timeout
        previous = None
        while True:
            time.sleep(0.25)
            shot = driver.get_screenshot_as_png()
            if shot == previous or time.monotonic() > deadline:
                break
            previous = shot
        with open(args.out, "wb") as out:
            out.write(shot)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
