"""The dashboard server's benchmark: request rates and latencies of the API
under wrk (32 connections on loopback), with the answer cache on and off,
and the page's first full render in headless Chromium. Run by
Benchmarks/serve/run; writes its section of BENCHMARKS.md.

Nothing here is asserted: the numbers are measured and written down.
"""
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

STAVE = os.environ["STAVE_BIN"]
ROOT = os.environ["STAVE_ROOT"]
CACHE = os.environ.get("STAVE_BENCH_CACHE", os.path.expanduser("~/.cache/stave-bench"))
ROWS = int(os.environ.get("SERVE_ROWS", "1000000"))
CUSTOMERS = max(1, ROWS // 200)
SECONDS = int(os.environ.get("SERVE_SECONDS", "10"))
QUICK = os.environ.get("SERVE_QUICK") == "1"


def sh(*args, cwd=None):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stderr[-2000:]}")
    return r.stdout


def store():
    d = os.path.join(CACHE, f"serve-r{ROWS}")
    s = os.path.join(d, "music.stave")
    if not os.path.exists(os.path.join(s, "MANIFEST")):
        os.makedirs(d, exist_ok=True)
        sh(STAVE, "generate", "--rows", str(ROWS), "--customers", str(CUSTOMERS), "--seed", "42", "-o", d, "--quiet")
        sh(STAVE, "convert", os.path.join(d, "tracks.csv"), "--customers", os.path.join(d, "cust.csv"), "-o", s, "--force")
    return s


def serve(path, *extra):
    p = subprocess.Popen([STAVE, "serve", path, "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"at (http://127\.0\.0\.1:\d+/) ", p.stdout.readline())
    if not m:
        p.kill()
        sys.exit("stave serve did not start: " + p.stderr.read())
    return p, m.group(1)


def wrk(url, path):
    """(requests/s, p50 ms, p99 ms) of 2 wrk threads, 32 connections."""
    out = sh("wrk", "-t2", "-c32", f"-d{SECONDS}s", "--latency", url.rstrip("/") + path)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw {errors.group(1)} failed responses for {path}")
    return rate, pct(50), pct(99)


def first_render(url, loads):
    """Milliseconds from navigation start to every panel drawn (the page sets
    data-ready), the median of `loads` fresh page loads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        o.add_argument(a)
    o.binary_location = shutil.which("chromium")
    b = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=o)
    times = []
    try:
        for _ in range(loads + 1):
            b.get("about:blank")
            b.get(url)
            t0 = time.time()
            while b.execute_script("return document.body.dataset.ready") != "true":
                if time.time() - t0 > 30:
                    sys.exit("the page did not finish rendering")
                time.sleep(0.01)
            # The page notes performance.now() (milliseconds since navigation
            # start) when its first refresh has drawn every panel.
            times.append(float(b.execute_script("return document.body.dataset.firstRenderMs")))
        return statistics.median(times[1:])
    finally:
        b.quit()


def main():
    s = store()
    rows = []
    for label, extra in [("answers cached per commit (default)", []), ("no cache (--cache-mb 0): every request runs its query", ["--cache-mb", "0"])]:
        p, url = serve(s, *extra)
        try:
            for path in ["/api/summary", "/api/stats", "/api/breakdown?by=level", "/api/hours?by=level"]:
                sh("curl", "-sf", "-o", "/dev/null", url.rstrip("/") + path)   # warm-up (and the cache)
                rate, p50, p99 = wrk(url, path)
                rows.append((label, path, rate, p50, p99))
                print(f"{label:<55} {path:<26} {rate:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms", flush=True)
            render = first_render(url, 3 if QUICK else 7) if not extra else None
            if render is not None:
                print(f"first full render of the page: {render:.0f} ms (median)", flush=True)
                render_ms = render
        finally:
            p.terminate()
            p.wait()
    if QUICK:
        return
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 1024 / 1024
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    L = ["<!-- serve:begin (written by Benchmarks/serve/run) -->", "## Dashboard server (`stave serve`)", "",
         f"Run {datetime.date.today()} at {commit} on {os.cpu_count()} cores ({cpu}), {mem:.1f} GiB; {wrk_version.split(' [')[0]}; {chromium}.",
         f"Store: {ROWS:,} events, {CUSTOMERS:,} customers (`stave generate --seed 42`). Load: `wrk -t2 -c32 -d{SECONDS}s --latency` on loopback, "
         "on the same 2 cores as the server (wrk's own threads take part of them). Each path was requested once before timing.", "",
         "| server | request | requests/s | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for label, path, rate, p50, p99 in rows:
        L.append(f"| {label} | `{path}` | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
    L += ["", f"First full render of the page (navigation start to every panel drawn, 12 API requests), median of 7 loads in headless Chromium: **{render_ms:.0f} ms**.", "",
          "Targets (issue 6): `/api/summary` and `/api/stats` p99 < 20 ms and >= 500 requests/s at 32 connections; first render < 1 s.",
          "<!-- serve:end -->"]
    section = "\n".join(L) + "\n"
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else ""
    if "<!-- serve:begin" in text:
        text = re.sub(r"<!-- serve:begin.*?<!-- serve:end -->\n", section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
    print("wrote the server section of BENCHMARKS.md")


if __name__ == "__main__":
    main()
