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
from selenium.webdriver.support.ui import Select

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
        self.assertEqual(number(self.text('.kpi [data-field="plays"]')), s["plays"])
        self.assertEqual(number(self.text('.kpi [data-field="active_customers"]')), s["active_customers"])
        self.assertEqual(self.text('[data-field="mobile_share"]'), f"{100 * s['mobile_share']:.1f}%")
        self.assertEqual(self.text('[data-field="span"]'), f"{s['first_play']} → {s['last_play']}")
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
        self.assertEqual(number(self.text(row + ' [data-col="plays"]')), gold["plays"])
        self.assertEqual(self.text(row + ' [data-col="avg_plays"]'), f"{gold['avg_plays']:,.1f}")
        self.assertEqual(self.text(row + ' [data-col="avg_mobile_plays"]'), f"{gold['avg_mobile_plays']:,.1f}")
        # The stats table too: one cell.
        stats = self.cli("stats", "m.stave")
        self.assertEqual(number(self.text('#stats tr[data-column="plays"] [data-col="max"]')), stats["plays"]["max"])

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
        self.assertEqual(number(self.text('[data-customer="plays"]')), c["plays"])
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
        self.wait_for(lambda: number(self.text('.kpi [data-field="plays"]')) == nov["plays"], "November's events")
        self.assertEqual(self.browser.find_element(By.ID, "from").get_attribute("value"), "2014-11-01")
        # To is not included, as --to in the CLI: November ends before 2014-12-01.
        self.assertEqual(self.browser.find_element(By.ID, "to").get_attribute("value"), "2014-12-01")
        self.assertIn("from=2014-11-01&to=2014-12-01", self.browser.current_url)
        gold = {r["level"]: r for r in self.cli("breakdown", "m.stave", "--by", "level", "--from", "2014-11-01", "--to", "2014-12-01")}["Gold"]
        self.wait_for(lambda: number(self.text('[data-breakdown="level"] tr[data-group="Gold"] [data-col="plays"]')) == gold["plays"],
                      "November's Gold events")
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard-november.png"))
        self.browser.find_element(By.ID, "all").click()
        total = self.cli("summary", "m.stave")["plays"]
        self.wait_for(lambda: number(self.text('.kpi [data-field="plays"]')) == total, "all events again")

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
        self.assertEqual(after["plays"], before["plays"] + 1500)
        elapsed = self.wait_for(lambda: number(self.text('.kpi [data-field="plays"]')) == after["plays"], "the appended events", timeout=5)
        elapsed = time.time() - t0
        print(f"dashboard: appended rows shown {elapsed * 1000:.0f} ms after the commit")
        self.assertLess(elapsed, 2.0)
        self.assertNotEqual(self.browser.execute_script("return document.body.dataset.generation"), generation)
        self.assertEqual(self.browser.execute_script("return window.__noReload"), "still here")
        self.assertIn(f"commit {after['generation']}", self.text("#live-text"))
        # Other panels followed: the Gold row and the stats.
        gold = {r["level"]: r for r in self.cli("breakdown", "m.stave", "--by", "level")}["Gold"]
        self.wait_for(lambda: number(self.text('[data-breakdown="level"] tr[data-group="Gold"] [data-col="plays"]')) == gold["plays"], "Gold events")
        self.browser.set_window_size(1280, self.browser.execute_script("return document.documentElement.scrollHeight") + 40)
        time.sleep(0.2)
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
        self.browser.set_window_size(1280, 900)

    # What the layout checks measure in the page, at the current width:
    # sideways overflow of the page, the smallest rendered text (SVG text
    # scaled by its screen transform), panels past the right edge, tables
    # wider than their panel that cannot scroll inside it, and the grid's
    # columns and width.
    LAYOUT_PROBE = """
    const out = { overflow: document.documentElement.scrollWidth - window.innerWidth, smallest: 99, smallestText: '',
                  outside: [], unscrollable: [], columns: getComputedStyle(document.getElementById('main')).gridTemplateColumns.split(' ').length,
                  mainWidth: document.getElementById('main').getBoundingClientRect().width };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const e = n.parentElement;
      if (!n.textContent.trim() || !e || e.closest('[hidden]') || e.closest('title')) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      let size = parseFloat(getComputedStyle(e).fontSize);
      if (e instanceof SVGElement && e.getScreenCTM()) size *= e.getScreenCTM().a;
      if (size < out.smallest) { out.smallest = size; out.smallestText = n.textContent.trim().slice(0, 40); }
    }
    for (const p of document.querySelectorAll('.panel, .kpi')) {
      if (p.getBoundingClientRect().right > window.innerWidth + 0.5) out.outside.push(p.querySelector('h2, .label')?.textContent);
    }
    for (const t of document.querySelectorAll('table')) {
      const box = t.closest('.scroll');
      const panel = t.closest('.panel');
      if (t.getBoundingClientRect().width > panel.getBoundingClientRect().width && !(box && getComputedStyle(box).overflowX === 'auto'
          && box.getBoundingClientRect().right <= panel.getBoundingClientRect().right + 0.5)) out.unscrollable.push(t.id || panel.querySelector('h2').textContent);
    }
    return out;
    """

    def test_6_three_widths(self):
        """Phone, laptop, wide screen: no sideways scrolling, every label
        at least 11 px, panels inside the page, tables that scroll inside
        their panel, and no empty grid column beside half-width panels."""
        docs = os.environ.get("STAVE_SCREENSHOTS_TO")
        for width, height in [(390, 844), (1400, 900), (1920, 1080)]:
            self.browser.set_window_size(width, height)
            self.wait_for(lambda: self.browser.execute_script("return window.innerWidth") == width or True, "the resize")
            time.sleep(0.5)   # the charts redraw 120 ms after the last resize
            m = self.browser.execute_script(self.LAYOUT_PROBE)
            self.assertLessEqual(m["overflow"], 0, f"the page scrolls sideways at {width} px")
            # (11 px, give or take subpixel layout.)
            self.assertGreaterEqual(m["smallest"], 10.95, f"text of {m['smallest']:.1f} px at {width} px: {m['smallestText']!r}")
            self.assertEqual(m["outside"], [], f"panels past the right edge at {width} px")
            self.assertEqual(m["unscrollable"], [], f"tables cut off at {width} px")
            if width >= 900:
                self.assertEqual(m["columns"], 2, f"grid columns at {width} px")
                self.assertGreater(m["mainWidth"], 0.9 * width, f"the grid spans {m['mainWidth']} of {width} px")
            else:
                self.assertEqual(m["columns"], 1)
            self.browser.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.1)
            name = f"dashboard-{width}.png"
            self.browser.save_screenshot(os.path.join(ARTIFACTS, name))
            if docs:
                self.browser.save_screenshot(os.path.join(docs, name))
        self.browser.set_window_size(1280, 900)

    def summary_shown(self):
        return number(self.text('.kpi [data-field="plays"]'))

    def test_7_filters_in_the_url_reach_every_panel(self):
        args = ["--level", "Gold", "--from", "2014-11-01", "--to", "2014-12-01"]
        self.browser.get(self.url + "?level=Gold&from=2014-11-01&to=2014-12-01")
        self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.ready") == "true", "the render")
        s = self.cli("summary", "m.stave", *args)
        self.wait_for(lambda: self.summary_shown() == s["plays"], "the filtered headline")
        self.assertEqual(number(self.text('.kpi [data-field="active_customers"]')), s["active_customers"])
        self.assertEqual(self.browser.find_element(By.ID, "f-level").get_attribute("value"), "Gold")
        # Breakdown by campaign, within Gold customers.
        for r in self.cli("breakdown", "m.stave", "--by", "campaign", *args):
            row = f'[data-breakdown="campaign"] tr[data-group="{r["campaign"]}"] [data-col="plays"]'
            self.assertEqual(number(self.browser.find_element(By.CSS_SELECTOR, row).get_attribute("textContent")), r["plays"])
        zips = self.cli("top-zips", "m.stave", "--limit", "10", *args)
        self.assertEqual([e.text for e in self.browser.find_elements(By.CSS_SELECTOR, "#zips tbody tr td:nth-child(2)")], [z["zip"] for z in zips])
        stats = self.cli("stats", "m.stave", *args)
        self.assertEqual(number(self.text('#stats tr[data-column="plays"] [data-col="max"]')), stats["plays"]["max"])
        parts = {r["part_of_day"]: r["plays"] for r in self.cli("hours", "m.stave", "--per", "part", *args)}
        for part, events in parts.items():
            self.assertTrue(self.text(f'[data-part="{part}"] [data-col="plays"]').startswith(f"{events:,} plays"), part)
        bars = self.browser.execute_script("return [...document.querySelectorAll('#hours-chart g[data-hour] title')].map(t => t.textContent)")
        hours = self.cli("hours", "m.stave", *args)
        self.assertEqual(len(bars), 24)
        for h, title in zip(hours, bars):
            self.assertIn(f": {h['plays']:,} plays", title)
        # A filter chosen in the page goes into the URL; a reload keeps it.
        Select(self.browser.find_element(By.ID, "f-status")).select_by_value("1")
        self.wait_for(lambda: "status=1" in self.browser.current_url, "the URL")
        s2 = self.cli("summary", "m.stave", *args, "--status", "1")
        self.wait_for(lambda: self.summary_shown() == s2["plays"], "the status filter")
        self.browser.refresh()
        self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.ready") == "true", "the reload")
        self.wait_for(lambda: self.summary_shown() == s2["plays"], "the same view after a reload")
        self.assertEqual(self.browser.find_element(By.ID, "f-status").get_attribute("value"), "1")
        # Back: the view before the status filter.
        self.browser.back()
        self.wait_for(lambda: self.summary_shown() == s["plays"], "the view before, after Back")
        self.browser.find_element(By.ID, "clear-filters").click()
        self.browser.find_element(By.ID, "all").click()
        total = self.cli("summary", "m.stave")["plays"]
        self.wait_for(lambda: self.summary_shown() == total, "all events again")
        self.assertNotIn("level=", self.browser.current_url)

    def test_8_an_empty_range_shows_an_error_not_old_numbers(self):
        self.browser.get(self.url + "?from=2014-12-01&to=2014-11-01")
        self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.state") == "invalid-range", "the error state")
        self.assertIn("To (2014-11-01) is not after From (2014-12-01)", self.text("#page-error"))
        self.assertEqual(self.text('.kpi [data-field="plays"]'), "–")
        self.assertEqual(self.browser.find_elements(By.CSS_SELECTOR, "#zips tbody tr"), [])
        self.assertEqual(self.browser.find_elements(By.CSS_SELECTOR, "#hours-chart svg"), [])
        # Fixed in the form: numbers again.
        self.browser.execute_script("document.getElementById('to').value = '2014-12-15'")
        self.browser.find_element(By.CSS_SELECTOR, '#range button[type="submit"]').click()
        s = self.cli("summary", "m.stave", "--from", "2014-12-01", "--to", "2014-12-15")
        self.wait_for(lambda: self.summary_shown() == s["plays"], "the fixed range")
        self.assertFalse(self.browser.find_element(By.ID, "page-error").is_displayed())
        self.browser.get(self.url)
        self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.ready") == "true", "the render")

    def test_9_replaced_and_deleted_store(self):
        d = self.dir
        stave("generate", "--rows", "4000", "--customers", "80", "--seed", "21", "-o", "gen2", "--quiet", cwd=d)
        stave("convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "r.stave", "--quiet", cwd=d)
        server = subprocess.Popen([STAVE, "serve", "r.stave", "--port", "0"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", server.stdout.readline()).group(1)
            self.browser.get(url)
            self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.ready") == "true", "the render")
            self.wait_for(lambda: self.text("#live-text").startswith("Live"), "Live")
            # Replaced by another store (generation 1 again).
            stave("convert", "gen2/tracks.csv", "--customers", "gen2/cust.csv", "-o", "r.stave", "--force", "--quiet", cwd=d)
            new = json.loads(stave("summary", "r.stave", "--format", "json", cwd=d))
            self.assertEqual(new["generation"], 1)
            self.wait_for(lambda: self.summary_shown() == new["plays"], "the replacing store's numbers", timeout=5)
            self.assertTrue(self.text("#live-text").startswith("Live"))
            # Deleted: not live, and said.
            shutil.rmtree(os.path.join(d, "r.stave"))
            self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.state") == "gone", "the gone state", timeout=5)
            self.assertFalse(self.text("#live-text").startswith("Live"))
            self.assertIn("is gone", self.text("#page-error"))
            self.browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard-gone.png"))
            # Back, without a customer table: the panels that need one say so.
            stave("convert", "gen/tracks.csv", "-o", "r.stave", "--quiet", cwd=d)
            back = json.loads(stave("summary", "r.stave", "--format", "json", cwd=d))
            self.wait_for(lambda: self.summary_shown() == back["plays"], "the store back", timeout=5)
            self.wait_for(lambda: self.text("#live-text").startswith("Live"), "Live again")
            self.assertFalse(self.browser.find_element(By.ID, "page-error").is_displayed())
            self.wait_for(lambda: "needs a customer table" in self.text("#breakdown-error"), "the breakdown's note")
            self.assertFalse(self.browser.find_element(By.ID, "filters").is_displayed())
        finally:
            server.terminate()
            server.wait(timeout=10)
            self.browser.get(self.url)
            self.wait_for(lambda: self.browser.execute_script("return document.body.dataset.ready") == "true", "the render")

    def test_zz_clean_console(self):
        errors = [e for e in self.browser.get_log("browser") if e["level"] == "SEVERE"
                  and not re.search(r"customers/987654|/api/.* 503|/api/events", e["message"])]
        self.maxDiff = None
        self.assertEqual(errors, [], "errors in the browser console")


if __name__ == "__main__":
    unittest.main(verbosity=2)
