"""`specs/diagrams/` holds a current drawing of every spec, linked from `specs/README.md`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tools import diagrams


def test_diagrams_are_current() -> None:
    assert diagrams.stale() == [], "run python -m tools.diagrams"


def test_every_diagram_is_svg_and_linked() -> None:
    readme = (diagrams.SPECS / "README.md").read_text()
    svgs = sorted(diagrams.OUT.glob("*.svg"))
    assert len(svgs) == len(list(diagrams.SPECS.glob("*.yaml")))
    for svg in svgs:
        assert ET.parse(svg).getroot().tag.endswith("svg")
        assert f"diagrams/{svg.name}" in readme
