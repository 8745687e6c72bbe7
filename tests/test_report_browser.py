"""The report in a real browser: Debian's chromium, headless, driven by selenium through chromedriver.

index.html and a gene page are opened from file:// as a reader would open them with a double click. No
console error, no network request (only the report's own pages load, from file://; images are data:
URIs), every image decoded, the hover and click of the PNG scatters, the gene table's sort, filter and
links, and the embedded TSV download. Screenshots go to ``$SEQGX_TEST_ARTIFACTS`` (default: the test's
tmp_path). With ``CI=true`` the tests always run: a missing browser fails them instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report import report_run

CI = os.environ.get("CI", "").strip().lower() == "true"


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    chromium, driver = _find("chromium", "chromium-browser", "google-chrome"), _find("chromedriver")
    if not chromium or not driver:
        why = f"chromium ({chromium or 'missing'}) and chromedriver ({driver or 'missing'}) are needed"
        if CI:
            pytest.fail(f"{why}; CI=true: the browser tests must run "
                        f"(apt-get install chromium chromium-driver)")
        pytest.skip(why)
    return chromium, driver


@pytest.fixture(scope="module")
def report(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_run(cohort, tmp_path_factory.getbasetemp()) / "report"


@pytest.fixture()
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SEQGX_TEST_ARTIFACTS") or tmp_path) / "report_browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def browser(browser_paths: tuple[str, str], tmp_path: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    d = webdriver.Chrome(service=Service(driver_path), options=options)
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()


def _requests(d) -> list[tuple[str, str]]:
    """(URL, document URL) of every request since the last call (Chrome's performance log: CDP Network
    events)."""
    out = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            out.append((msg["params"]["request"]["url"], msg["params"].get("documentURL", "")))
    return out


NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


def _assert_clean(d, report: Path, allowed_pages: set[str]) -> None:
    """No console error; the report's pages requested nothing but themselves (file://) and data:/blob:
    URLs, and nothing at all went to the network. (Chrome's own start page loads chrome:// resources in
    the background: those belong to no report document.)"""
    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    allowed = {(report / p).resolve() for p in allowed_pages}
    for url, document in _requests(d):
        assert not url.lower().startswith(NETWORK_SCHEMES), f"network request {url} (from {document})"
        if not document.startswith("file://") or url.startswith(("data:", "blob:")):
            continue
        assert url.startswith("file://"), f"request {url} from {document}"
        path = Path(url.removeprefix("file://").split("#")[0].split("?")[0])
        assert path.resolve() in allowed, f"loaded {url} from {document}"


def _images_decoded(d) -> int:
    broken = d.execute_script("return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                              ".map(i => i.alt)")
    assert not broken, broken
    return d.execute_script("return document.images.length")


def _open(d, path: Path) -> None:
    d.get_log("performance")  # drop what the browser did before (its start page)
    d.get_log("browser")
    d.get(path.resolve().as_uri())
    for _ in range(100):  # the scripts run at the end of the body: wait for the table to be filled
        if d.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.05)


def _screenshot(d, folder: Path, name: str) -> None:
    height = d.execute_script("return document.body.scrollHeight")
    d.set_window_size(1400, min(int(height), 8000))
    d.save_screenshot(str(folder / f"{name}.png"))
    d.set_window_size(1400, 1000)


def _table_rows(d) -> list[list[str]]:
    return d.execute_script("return [...document.querySelectorAll('#gene-table tbody tr')]"
                            ".map(tr => [...tr.cells].map(td => td.textContent))")


def _column(d, name: str) -> int:
    return d.execute_script("return [...document.querySelectorAll('#gene-table thead th')]"
                            f".findIndex(th => th.dataset.column === '{name}')")


def test_index_opens_offline_and_draws_everything(browser, report: Path, artifacts: Path) -> None:
    d = browser
    pages = {"index.html", *(f"genes/{p.name}" for p in (report / "genes").glob("*.html"))}
    _open(d, report / "index.html")
    assert "seqgx report" in d.title
    n_images = _images_decoded(d)
    assert n_images >= 6
    assert d.execute_script("return document.querySelectorAll('figure svg').length") >= 4
    interactive = d.execute_script("return [...document.querySelectorAll('img[data-points]')]"
                                   ".map(i => i.dataset.ready === '1')")
    assert interactive and all(interactive)
    assert len(_table_rows(d)) > 0
    # the Motifs section (the run's motif analysis): its headline and its figure, drawn
    motifs = d.execute_script("const s = document.getElementById('motifs'); return s && "
                              "[s.innerText, s.querySelector('figure svg') !== null, "
                              "s.querySelector('figure svg').getBoundingClientRect().height]")
    assert motifs and "main drivers" in motifs[0] and motifs[1] and motifs[2] > 50
    _screenshot(d, artifacts, "index")
    _assert_clean(d, report, pages)


def test_hovering_a_point_names_its_gene_and_a_click_opens_its_page(browser, report: Path,
                                                                    artifacts: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    d = browser
    pages = {"index.html", *(f"genes/{p.name}" for p in (report / "genes").glob("*.html"))}
    _open(d, report / "index.html")
    with_page = {p.stem for p in (report / "genes").glob("*.html")}
    img = d.find_element(By.CSS_SELECTOR, "img[data-points]")
    pts = json.loads(d.find_element(By.ID, img.get_attribute("data-points")).get_attribute("textContent"))
    table = json.loads(d.find_element(By.ID, "gene-table-data").get_attribute("textContent"))
    gene_of = [row[table["columns"].index("gene_id")] for row in table["rows"]]
    pts["g"] = [gene_of[r] for r in pts["row"]]  # each point names its gene-table row
    def gap(k: int) -> float:  # to the nearest other point: hover the most isolated one
        return min(((pts["x"][k] - x) ** 2 + (pts["y"][k] - y) ** 2 for j, (x, y) in
                    enumerate(zip(pts["x"], pts["y"], strict=True)) if j != k), default=1e9)
    i = max((k for k, g in enumerate(pts["g"]) if g in with_page), key=gap)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    rect = d.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]", img)
    scale = rect[0] / pts["w"]
    dx, dy = pts["x"][i] * scale - rect[0] / 2, pts["y"][i] * scale - rect[1] / 2
    ActionChains(d).move_to_element_with_offset(img, int(round(dx)), int(round(dy))).perform()
    tip = d.find_element(By.ID, "tooltip")
    assert tip.is_displayed() and pts["g"][i] in tip.text and "open the gene page" in tip.text
    d.save_screenshot(str(artifacts / "hover.png"))
    ActionChains(d).click().perform()
    for _ in range(100):
        if d.current_url.endswith(f"genes/{pts['g'][i]}.html"):
            break
        time.sleep(0.05)
    assert d.current_url.endswith(f"genes/{pts['g'][i]}.html")
    _assert_clean(d, report, pages)


def test_gene_table_sorts_filters_and_links(browser, report: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    pages = {"index.html", *(f"genes/{p.name}" for p in (report / "genes").glob("*.html"))}
    _open(d, report / "index.html")
    header = d.find_element(By.CSS_SELECTOR, "#gene-table th[data-column='r']")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", header)
    col = _column(d, "r")
    before = [row[col] for row in _table_rows(d)]
    header.click()
    first = [row[col] for row in _table_rows(d)]
    values = [float(v) for v in first if v != "NA"]
    assert values == sorted(values, reverse=True) and first != before
    assert all(v == "NA" for v in first[len(values):])  # missing values last
    header.click()
    values = [float(v) for v in (row[col] for row in _table_rows(d)) if v != "NA"]
    assert values == sorted(values)

    n_all = len(_table_rows(d))
    name_col = _column(d, "gene_name")
    target = _table_rows(d)[0][name_col]
    box = d.find_element(By.ID, "gene-filter")
    box.send_keys(target)
    rows = _table_rows(d)
    assert 0 < len(rows) < n_all and all(target in " ".join(r) for r in rows)
    _screenshot(d, artifacts, "table_filtered")
    box.clear()
    box.send_keys("no gene is called this")
    assert _table_rows(d) == []
    d.execute_script("const b = document.getElementById('gene-filter'); b.value = '';"
                     "b.dispatchEvent(new Event('input'))")
    assert len(_table_rows(d)) == n_all
    d.find_element(By.ID, "sig-only").click()
    sig_col = _column(d, "significant")
    significant = _table_rows(d)
    assert 0 < len(significant) < n_all and {r[sig_col] for r in significant} == {"yes"}

    link = d.find_element(By.CSS_SELECTOR, "#gene-table tbody a")
    href = link.get_attribute("href")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)  # clear of the sticky header
    link.click()
    for _ in range(100):
        if d.current_url == href:
            break
        time.sleep(0.05)
    assert d.current_url == href and "/genes/" in href
    assert _images_decoded(d) + d.execute_script("return document.querySelectorAll('figure svg').length") >= 4
    _screenshot(d, artifacts, "gene_from_link")
    _assert_clean(d, report, pages)


def test_gene_page_opens_offline(browser, report: Path, artifacts: Path) -> None:
    d = browser
    page = sorted((report / "genes").glob("*.html"))[0]
    _open(d, page)
    assert page.stem in d.find_element("tag name", "h1").text
    n = _images_decoded(d) + d.execute_script("return document.querySelectorAll('figure svg').length")
    assert n >= 8  # per readout: prediction, ISM, eQTL, forward, gradient track, saturation logo
    assert d.execute_script("return document.querySelectorAll('table.drivers tbody tr').length") > 0
    headers = d.execute_script("return [...document.querySelectorAll('table.drivers th')]"
                               ".map(h => h.textContent)")
    assert "in seqlet" in headers and "seqlet TF" in headers  # the drivers' motif context
    back = d.execute_script("return document.querySelector('a[href=\"../index.html\"]') !== null")
    assert back
    _screenshot(d, artifacts, "gene_page")
    _assert_clean(d, report, {f"genes/{page.name}"})


def test_embedded_tsv_downloads_without_a_request(browser, report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    _open(d, report / "index.html")
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                      "downloadPath": str(tmp_path / "downloads")})
    link = d.find_element(By.CSS_SELECTOR, "a[data-name='genes.tsv']")
    d.execute_script("arguments[0].click()", link)
    target = tmp_path / "downloads" / "genes.tsv"
    for _ in range(200):
        if target.is_file() and target.stat().st_size:
            break
        time.sleep(0.05)
    assert target.read_bytes() == (report.parent / "assessment" / "genes.tsv").read_bytes()
    _assert_clean(d, report, {"index.html"})
