"""rnnlab.files: result files are written whole or not at all, and SVG charts reproducibly."""
import json

import pytest

from rnnlab.files import write_json, write_svg, write_text


def test_writers_replace_the_file_whole_and_leave_no_temporary(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    write_text(path, "second")
    assert path.read_text() == "second"
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})  # a failed write keeps the old file
    assert path.read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_write_svg_is_reproducible(tmp_path):
    figure = pytest.importorskip("matplotlib.figure")

    def draw(path):
        fig = figure.Figure(figsize=(2, 2))
        fig.add_subplot().plot([0, 1], [1, 0], label="line")
        return write_svg(fig, path).read_text()

    a, b = draw(tmp_path / "a.svg"), draw(tmp_path / "b.svg")
    assert a == b and a.lstrip().startswith("<?xml") and "<dc:date>" not in a
