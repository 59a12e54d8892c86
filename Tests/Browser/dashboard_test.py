"""The dashboard in a real browser (headless Chromium through Selenium and
chromedriver, both from Debian's packages).

Runs `stave serve` on a generated store, loads the page, and checks that the
numbers it renders equal the CLI's output: the headline, one breakdown row,
one customer lookup, a month selected with the date control. Then it appends
rows with `stave append` and checks that the page shows the new numbers
within 2 seconds, without a reload. Screenshots go to $STAVE_ARTIFACTS.

    STAVE_BIN=.build/debug/stave python Tests/Browser/dashboard_test.py
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

STAVE = os.path.abspath(os.environ.get("STAVE_BIN", ".build/debug/stave"))
ARTIFACTS = os.path.abspath(os.environ.get("STAVE_ARTIFACTS", ".build/browser-artifacts"))


def stave(*args, cwd):
    r = subprocess.run([STAVE, *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"stave {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def number(text):
    """'1,234' -> 1234, '61.4%' -> 61.4"""
    return float(re.sub(r"[,%]", "", text.strip()))


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="stave-browser-")
        d = cls.dir
        stave("generate", "--rows", "30000", "--customers", "300", "--seed", "3", "-o", "gen", "--quiet", cwd=d)
        stave("convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "m.stave", cwd=d)
        cls.server = subprocess.Popen([STAVE, "serve", "m.stave", "--port", "0"], cwd=d,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.server.stdout.readline()
        m = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
        if not m:
            cls.server.kill()
            raise AssertionError(f"no URL from stave serve: {line!r} {cls.server.stderr.read()}")
        cls.url = m.group(1)
        options = webdriver.ChromeOptions()
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]:
            options.add_argument(a)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.browser = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        cls.browser.get(cls.url)
        cls.wait_for(lambda: cls.browser.execute_script("return document.body.dataset.ready") == "true", "the first render")
        os.makedirs(ARTIFACTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.server.terminate()
        cls.server.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def wait_for(cls, condition, what, timeout=10.0):
        t0 = time.time()
        while time.time() - t0 < timeout:
            try:
                if condition():
                    return time.time() - t0
            except Exception:
                pass
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def text(self, css):
        return self.browser.find_element(By.CSS_SELECTOR, css).text

    def cli(self, *args):
        return json.loads(stave(*args, "--format", "json", cwd=self.dir))

    def test_1_headline_equals_summary(self):
        s = self.cli("summary", "m.stave")
        self.assertEqual(number(self.text('.kpi [data-field="events"]')), s["events"])
        self.assertEqual(number(self.text('.kpi [data-field="active_customers"]')), s["active_customers"])
        self.assertEqual(self.text('[data-field="mobile_share"]'), f"{100 * s['mobile_share']:.1f}%")
        self.assertEqual(self.text('[data-field="span"]'), f"{s['first_event']} → {s['last_event']}")
        self.assertIn(f"of {s['customers']:,} customers", self.text('[data-field="customers"]'))
        first = int(self.browser.execute_script("return document.body.dataset.firstRenderMs"))
        print(f"dashboard: first full render in {first} ms")
        self.assertLess(first, 5000)

    def test_2_breakdown_row_equals_cli(self):
        rows = {r["level"]: r for r in self.cli("breakdown", "m.stave", "--by", "level")}
        gold = rows["Gold"]
        row = '[data-breakdown="level"] tr[data-group="Gold"]'
        self.assertEqual(number(self.text(row + ' [data-col="customers"]')), gold["customers"])
        self.assertEqual(number(self.text(row + ' [data-col="active_customers"]')), gold["active_customers"])
        self.assertEqual(number(self.text(row + ' [data-col="events"]')), gold["events"])
        self.assertEqual(self.text(row + ' [data-col="avg_total_tracks"]'), f"{gold['avg_total_tracks']:,.1f}")
        self.assertEqual(self.text(row + ' [data-col="avg_mobile_tracks"]'), f"{gold['avg_mobile_tracks']:,.1f}")
        # The stats table too: one cell.
        stats = self.cli("stats", "m.stave")
        self.assertEqual(number(self.text('#stats tr[data-column="total_tracks"] [data-col="max"]')), stats["total_tracks"]["max"])

    def test_3_customer_lookup_equals_cli(self):
        c = self.cli("customer", "m.stave", "48")
        box = self.browser.find_element(By.ID, "customer-id")
        box.clear()
        box.send_keys("48")
        self.browser.find_element(By.CSS_SELECTOR, '#lookup button[type="submit"]').click()
        self.wait_for(lambda: self.browser.find_element(By.ID, "customer").get_attribute("data-customer-id") == "48", "the lookup")
        self.assertEqual(self.text('[data-customer="name"]'), c["name"])
        self.assertEqual(self.text('[data-customer="level"]'), c["level"])
        self.assertEqual(self.text('[data-customer="campaign"]'), c["campaign"])
        self.assertEqual(number(self.text('[data-customer="total_tracks"]')), c["total_tracks"])
        self.assertEqual(number(self.text('[data-customer="unique_tracks"]')), c["unique_tracks"])
        self.assertEqual(number(self.text('[data-customer="night"]')), c["night"])
        # An unknown id: a clear message, no stale profile.
        box.clear()
        box.send_keys("987654")
        self.browser.find_element(By.CSS_SELECTOR, '#lookup button[type="submit"]').click()
        self.wait_for(lambda: "no customer 987654" in self.text("#customer-error"), "the lookup error")
        self.assertFalse(self.browser.find_element(By.ID, "customer").is_displayed())

    def test_4_month_range_equals_cli(self):
        nov = self.cli("summary", "m.stave", "--from", "2014-11-01", "--to", "2014-12-01")
        self.browser.find_element(By.CSS_SELECTOR, '#months button[data-from="2014-11-01"]').click()
        self.wait_for(lambda: number(self.text('.kpi [data-field="events"]')) == nov["events"], "November's events")
        self.assertEqual(self.browser.find_element(By.ID, "from").get_attribute("value"), "2014-11-01")
        self.assertEqual(self.browser.find_element(By.ID, "to").get_attribute("value"), "2014-11-30")
        gold = {r["level"]: r for r in self.cli("breakdown", "m.stave", "--by", "level", "--from", "2014-11-01", "--to", "2014-12-01")}["Gold"]
        self.wait_for(lambda: number(self.text('[data-breakdown="level"] tr[data-group="Gold"] [data-col="events"]')) == gold["events"],
                      "November's Gold events")
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard-november.png"))
        self.browser.find_element(By.ID, "all").click()
        total = self.cli("summary", "m.stave")["events"]
        self.wait_for(lambda: number(self.text('.kpi [data-field="events"]')) == total, "all events again")

    def test_5_append_shows_up_without_reload(self):
        before = self.cli("summary", "m.stave")
        self.browser.execute_script("window.__noReload = 'still here'")
        generation = self.browser.execute_script("return document.body.dataset.generation")
        with open(os.path.join(self.dir, "gen", "tracks.csv")) as f:
            lines = f.read().splitlines()[:1500]
        with open(os.path.join(self.dir, "new.csv"), "w") as f:
            for k, line in enumerate(lines):
                f.write(f"{10_000_000 + k}," + line.split(",", 1)[1] + "\n")
        stave("append", "m.stave", "new.csv", cwd=self.dir)
        t0 = time.time()
        after = self.cli("summary", "m.stave")
        self.assertEqual(after["events"], before["events"] + 1500)
        elapsed = self.wait_for(lambda: number(self.text('.kpi [data-field="events"]')) == after["events"], "the appended events", timeout=5)
        elapsed = time.time() - t0
        print(f"dashboard: appended rows shown {elapsed * 1000:.0f} ms after the commit")
        self.assertLess(elapsed, 2.0)
        self.assertNotEqual(self.browser.execute_script("return document.body.dataset.generation"), generation)
        self.assertEqual(self.browser.execute_script("return window.__noReload"), "still here")
        self.assertIn(f"commit {after['generation']}", self.text("#live-text"))
        # Other panels followed: the Gold row and the stats.
        gold = {r["level"]: r for r in self.cli("breakdown", "m.stave", "--by", "level")}["Gold"]
        self.wait_for(lambda: number(self.text('[data-breakdown="level"] tr[data-group="Gold"] [data-col="events"]')) == gold["events"], "Gold events")
        self.browser.set_window_size(1280, self.browser.execute_script("return document.documentElement.scrollHeight") + 40)
        time.sleep(0.2)
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
        self.browser.set_window_size(1280, 900)

    def test_6_phone_width_and_clean_console(self):
        self.browser.set_window_size(390, 844)
        time.sleep(0.3)
        overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 0, "the page scrolls sideways on a phone")
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard-phone.png"))
        self.browser.set_window_size(1280, 900)
        errors = [e for e in self.browser.get_log("browser") if e["level"] == "SEVERE" and "customers/987654" not in e["message"]]
        self.assertEqual(errors, [], "errors in the browser console")


if __name__ == "__main__":
    unittest.main(verbosity=2)
