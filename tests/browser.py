"""A Snakemake HTML report as a reader sees it: opened in a headless browser, each result's
view shown by the report's own app, and the text of every view read back.

A copy of the report gets one script more: after the page has loaded, it opens the view of
every result (`app.showResultInfo`, what a click in the report's menu does) and writes the
text the app rendered into an element `#acai-views` as JSON, which `--dump-dom` prints."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

# Debian's chromium-headless-shell (what CI installs), Debian's chromium, Google's builds.
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "chrome-headless-shell")
INSTALL_HINT = "install a headless browser, e.g. `apt-get install chromium-headless-shell` (Debian)"

VISIT_EVERY_RESULT = """
<script>
window.addEventListener("load", async () => {
  const pause = () => new Promise(done => setTimeout(done, 100));
  await pause();
  const views = {};
  for (const path of Object.keys(results)) {
    app.showResultInfo(path);
    await pause();
    views[path] = document.querySelector("#app").textContent;
  }
  const out = document.createElement("pre");
  out.id = "acai-views";
  out.textContent = JSON.stringify(views);
  document.body.appendChild(out);
});
</script>
"""
VIEWS = re.compile(r'<pre id="acai-views">(.*?)</pre>', re.S)


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def rendered_views(report: Path, browser: str, workdir: Path, timeout: int = 120) -> dict:
    """{result path: the text of its view in the report}. RuntimeError when the page never
    finished (the app failed to load, a script error): the browser's output says why."""
    page = workdir / "report_views.html"
    text = Path(report).read_text()
    end = text.rindex("</body>")  # the page's own: a library in the page spells the tag in a string too
    page.write_text(text[:end] + VISIT_EVERY_RESULT + text[end:])
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=60000",
        "--dump-dom",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    found = VIEWS.search(result.stdout)
    if not found:
        raise RuntimeError(
            f"{browser} rendered no views of {report}: exit {result.returncode}\n{result.stderr[-2000:]}"
        )
    return json.loads(html.unescape(found.group(1)))


def caption(view_text: str) -> str:
    """The caption of a result's view ('Description' up to the file's 'Size'), whitespace collapsed."""
    return " ".join(view_text.partition("Description")[2].partition("Size")[0].split())


def caption_problems(views: dict, expected: list, scale: str, seeds: list) -> list[str]:
    """What a reader of the report misses: an expected result absent, a caption not naming the
    scale and seeds (`Scale <scale>, seeds <seeds>`) or the reporting rule (`Reporting rule:`)."""
    problems = [f"{path}: not in the report" for path in expected if path not in views]
    needles = (f"Scale {scale}, seeds {', '.join(map(str, seeds))}", "Reporting rule:")
    for path, text in views.items():
        problems += [
            f"{path}: its caption does not say {needle!r}" for needle in needles if needle not in caption(text)
        ]
    return problems
