"""The course, ``docs/course/NN_name.py``: every lesson runs top to bottom in a fresh kernel (its
``assert`` cells included) and shows pictures; the pages ``make course`` writes show every one of
those pictures in headless Chromium.

Needs the ``course`` extra (jupytext, nbclient, ipykernel; nbconvert for the pages), which ``make
test`` installs, and skips without it; the page test also skips when Debian's ``chromium`` is
missing (``make course`` installs it)."""
import ast
import base64
import importlib.util
import pathlib
import shutil

import pytest

for _module in ("jupytext", "nbclient", "ipykernel"):
    pytest.importorskip(_module)

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_course", ROOT / "docs" / "build_course.py")
build_course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_course)

LESSONS = build_course.lessons()
pictures = build_course.pictures
_executed = {}  # lesson path -> executed notebook, shared by the lesson tests and the page test


def executed(path):
    """The lesson at ``path``, executed once per test session."""
    if path not in _executed:
        _executed[path] = build_course.execute(path)
    return _executed[path]


def test_the_course_has_the_eight_lessons_of_issue_14():
    assert [p.name for p in LESSONS] == [
        "01_recurrence.py", "02_worked_example.py", "03_bptt.py", "04_char_lm.py", "05_truncated_bptt.py",
        "06_exploding_vanishing.py", "07_lstm_gru.py", "08_seq2seq_attention.py"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_is_a_percent_script_that_asserts_its_numbers(path):
    import jupytext

    text = path.read_text(encoding="utf-8")
    assert "format_name: percent" in text.split("# ---", 2)[1], f"{path.name}: not a jupytext percent script"
    notebook = jupytext.read(path)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    asserts = sum(isinstance(node, ast.Assert) for source in code for node in ast.walk(ast.parse(source)))
    assert asserts >= 5, f"{path.name} asserts only {asserts} things"
    assert build_course.title(notebook).startswith(f"Lesson {int(path.name[:2])}:")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_top_to_bottom_and_shows_pictures(path):
    notebook = executed(path)  # a failing cell (a failed assert too) raises CellExecutionError
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    assert pictures(notebook) >= 1, f"{path.name} shows no graph or chart"


def test_pages_show_every_picture_in_chromium(tmp_path):
    pytest.importorskip("nbconvert")
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make test and make course install it where apt can)")
    entries = build_course.write_pages(tmp_path, [(p, executed(p), 0.0) for p in LESSONS])
    expected = {page: pictures(executed(p)) for (page, _, _), p in zip(entries, LESSONS)}
    build_course.check_pages(tmp_path, expected)  # AssertionError naming each missing or empty picture
    index = build_course.dump_dom(tmp_path / "index.html")
    assert all(title in index for _, title, _ in entries)


def test_the_page_check_sees_a_picture_that_does_not_draw(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make test and make course install it where apt can)")
    square = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">'
                              b'<rect width="100" height="50"/></svg>').decode()
    (tmp_path / "index.html").write_text('<a href="lesson.html">lesson</a>')
    (tmp_path / "lesson.html").write_text(
        '<html><body><div class="jp-OutputArea-output"><img src="data:image/png;base64,AAAA"></div>'
        f'<div class="jp-OutputArea-output"><img src="data:image/svg+xml;base64,{square}"></div></body></html>')
    found = build_course.page_pictures(tmp_path / "lesson.html")
    assert [p["natural"] for p in found] == [0, 100] and found[1]["height"] == 50
    with pytest.raises(AssertionError, match="picture 1 did not decode"):
        build_course.check_pages(tmp_path, {"lesson.html": 2})
