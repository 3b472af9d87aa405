"""Run the course's lessons and write them as HTML pages with their outputs (``make course``).

Each lesson is a jupytext percent-format script, ``docs/course/NN_name.py``. ``execute`` turns one
into a notebook and runs it top to bottom in a fresh kernel of *this* Python (a kernel spec written
into a temporary folder, so nothing needs to be registered with Jupyter beforehand); a failing cell,
an ``assert`` included, raises ``nbclient``'s ``CellExecutionError`` naming the cell. ``build``
writes every executed lesson as ``NN_name.html`` and an ``index.html`` listing them;
``check_pages`` opens them in headless Chromium and checks that every picture is there and drawn.

Needs the ``course`` extra (jupytext, nbclient, ipykernel, nbconvert); ``--check`` needs Debian's
``chromium``::

    python docs/build_course.py --out out/course --check  # all lessons (make course)
    python docs/build_course.py --out /tmp/c 02 04        # only lessons 02 and 04, unchecked
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from rnnlab.files import write_text

COURSE = pathlib.Path(__file__).resolve().parent / "course"
KERNEL = "minigrad-course"
CELL_TIMEOUT = 600  # seconds for one cell; a lesson takes about a minute in all


def lessons(folder=COURSE) -> list[pathlib.Path]:
    """The lesson scripts ``NN_name.py`` of ``folder``, in lesson order."""
    return sorted(p for p in pathlib.Path(folder).glob("*.py") if re.fullmatch(r"\d\d_\w+\.py", p.name))


def title(notebook) -> str:
    """The lesson's title: the first markdown heading of the notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    raise ValueError("the lesson has no markdown heading to take its title from")


@contextlib.contextmanager
def _kernel_manager():
    """A kernel manager for a kernel of ``sys.executable``, through a kernel spec in a temporary
    folder: the lessons run in this interpreter's environment whatever Jupyter has registered, and
    the kernel's connection file and sockets live in that folder too."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    with tempfile.TemporaryDirectory(prefix="minigrad-kernel-") as tmp:
        spec = pathlib.Path(tmp) / KERNEL
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "minigrad course", "language": "python"}))
        specs = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        # ipc: the kernel's sockets are files in the temporary folder, not ports open on the machine
        km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs, transport="ipc",
                                ip=str(pathlib.Path(tmp) / "ipc"),
                                connection_file=str(pathlib.Path(tmp) / "connection.json"))
        try:
            yield km
        finally:  # nbclient leaves a kernel manager it was handed running
            if run_sync(km.is_alive)():
                run_sync(km.shutdown_kernel)(now=True)


def execute(path, timeout: int = CELL_TIMEOUT):
    """The lesson at ``path`` as a notebook, executed top to bottom (outputs filled in) in a
    temporary working folder. Raises ``nbclient.exceptions.CellExecutionError`` on a failing cell."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    with _kernel_manager() as km, tempfile.TemporaryDirectory(prefix="minigrad-lesson-") as cwd:
        NotebookClient(notebook, km=km, timeout=timeout, kernel_name=KERNEL,
                       resources={"metadata": {"path": cwd}}).execute()
    return notebook


def to_html(notebook, name: str) -> str:
    """An executed notebook as one HTML page: pictures inline as data URLs (``<img>``: SVG kept
    out of the page's markup, so the ids inside different pictures cannot collide), no scripts
    but MathJax for the equations (read as TeX when offline)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", require_js_url="", exclude_anchor_links=True)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": name}})
    # no require.js (no widgets): drop the empty script tag; and let wide graphs shrink to the
    # page, as the lab style does for images of other kinds
    body = body.replace('<script src=""></script>', "")
    return body.replace("</head>", f"<style>{_FIT}</style>\n</head>", 1)


_FIT = ".jp-RenderedSVG img, .jp-RenderedImage img { max-width: 100%; height: auto; }"


def index_html(entries: list[tuple[str, str, float]]) -> str:
    """The index page: one line per lesson (file name, title, seconds it took to run)."""
    rows = "\n".join(f'  <li><a href="{html.escape(page)}">{html.escape(name)}</a>'
                     f' <span class="time">({seconds:.0f} s)</span></li>'
                     for page, name, seconds in entries)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>minigrad: recurrent networks, the course</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 3em auto; line-height: 1.5; }}
  .time {{ color: #777; font-size: 90%; }}
</style>
</head>
<body>
<h1>Recurrent networks with minigrad</h1>
<p>Each lesson is a notebook of <code>docs/course/</code>, run top to bottom with its outputs
(the time it took is in brackets). Every number a lesson states is checked by an
<code>assert</code> in it.</p>
<ol id="lessons">
{rows}
</ol>
</body>
</html>
"""


def build(out, selected=None, check: bool = False) -> list[tuple[str, str, float]]:
    """Execute the lessons (all, or those whose number or name starts with one of ``selected``)
    and write their pages and ``index.html`` into ``out``; with ``check``, then ``check_pages``
    them. Returns (page, title, seconds) each."""
    chosen = [p for p in lessons() if not selected or any(p.stem.startswith(s) for s in selected)]
    if not chosen:
        raise SystemExit(f"build_course: no lesson matches {' '.join(selected)} in {COURSE}")
    executed = []
    for path in chosen:
        started = time.perf_counter()
        notebook = execute(path)
        executed.append((path, notebook, time.perf_counter() - started))
        print(f"{path.name}: {executed[-1][2]:.1f} s", flush=True)
    entries = write_pages(out, executed)
    print(f"{len(entries)} lessons and the index: {pathlib.Path(out) / 'index.html'}")
    if check:
        check_pages(out, {page: pictures(nb) for (page, _, _), (_, nb, _) in zip(entries, executed)})
        print("every picture of every page is drawn in headless Chromium")
    return entries


def write_pages(out, executed) -> list[tuple[str, str, float]]:
    """Write ``NN_name.html`` for each ``(path, executed notebook, seconds)`` and ``index.html``
    listing them into ``out``. Returns (page, title, seconds) each."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for path, notebook, seconds in executed:
        page = pathlib.Path(path).stem + ".html"
        write_text(out / page, to_html(notebook, pathlib.Path(path).stem))
        entries.append((page, title(notebook), seconds))
    write_text(out / "index.html", index_html(entries))
    return entries


# checking the pages in a browser ----------------------------------------------------------------
PICTURES = ("image/svg+xml", "image/png")


def pictures(notebook) -> int:
    """How many outputs of an executed notebook are pictures (graphs and charts)."""
    return sum(any(kind in out.get("data", {}) for kind in PICTURES)
               for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs)


# Added to a copy of a page: once it has loaded, record each output picture's decoded width (0 for
# an image the browser could not decode) and its size on the page, for --dump-dom to carry out.
_MEASURE = """<script>
window.addEventListener("load", () => {
  const found = [...document.querySelectorAll(".jp-OutputArea-output img")].map(img => {
    const box = img.getBoundingClientRect();
    return {natural: img.naturalWidth, width: box.width, height: box.height, complete: img.complete};
  });
  document.body.setAttribute("data-pictures", JSON.stringify(found));
});
</script>"""
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND",  # the MathJax link stays unresolved: no traffic
                  "--virtual-time-budget=10000", "--window-size=1200,900")


def dump_dom(page, chromium: str | None = None) -> str:
    """The DOM of ``page`` (a file) after loading in headless Chromium, with a fresh profile."""
    chromium = chromium or shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium, or make course)")
    with tempfile.TemporaryDirectory(prefix="minigrad-chromium-") as profile:
        done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               pathlib.Path(page).resolve().as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {page} (exit {done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def page_pictures(page, chromium: str | None = None) -> list[dict]:
    """Every output picture of ``page`` as Chromium draws it: ``natural`` (decoded width, 0 if it
    did not decode), ``width`` and ``height`` on the page, ``complete``."""
    page = pathlib.Path(page)
    with tempfile.TemporaryDirectory(prefix="minigrad-probe-") as tmp:
        probe = pathlib.Path(tmp) / page.name
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>", 1),
                         encoding="utf-8")
        dom = dump_dom(probe, chromium)
    start = dom.find('data-pictures="')
    if start < 0:
        raise RuntimeError(f"{page}: the page did not finish loading in chromium")
    start += len('data-pictures="')
    return json.loads(html.unescape(dom[start:dom.index('"', start)]))


def check_pages(out, expected: dict, chromium: str | None = None) -> None:
    """Open ``out/index.html`` and each page of ``expected`` (page name -> number of pictures) in
    headless Chromium; AssertionError naming every problem: a page the index does not link, a
    picture missing, not decoded or drawn without size."""
    out = pathlib.Path(out)
    index = dump_dom(out / "index.html", chromium)
    problems = [f"the index does not link {page}" for page in expected if f'href="{page}"' not in index]
    for page, count in expected.items():
        found = page_pictures(out / page, chromium)
        if len(found) != count:
            problems.append(f"{page}: {len(found)} pictures on the page, {count} in the notebook")
        problems += [f"{page}: picture {k + 1} did not decode" for k, p in enumerate(found)
                     if not (p["complete"] and p["natural"] > 0)]
        problems += [f"{page}: picture {k + 1} is drawn {p['width']:.0f}x{p['height']:.0f} px"
                     for k, p in enumerate(found) if not (p["width"] > 50 and p["height"] > 20)]
    assert not problems, "\n".join(problems)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/course", help="folder for the pages (default out/course)")
    parser.add_argument("--check", action="store_true",
                        help="then open the pages in headless Chromium and check every picture is drawn")
    parser.add_argument("only", nargs="*", help="lesson numbers or names to build (default: all)")
    args = parser.parse_args(argv)
    build(args.out, args.only, check=args.check)


if __name__ == "__main__":
    main()
