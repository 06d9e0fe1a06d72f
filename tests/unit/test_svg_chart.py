"""The printed report's trend charts: the dates at both ends stay inside the chart."""

from __future__ import annotations

import re

from careloop.care.svg import WIDTH, Point, line_chart


def test_the_first_and_last_dates_run_inwards_from_their_points() -> None:
    points = [Point(label, value, False) for label, value in (("2025-11", 132), ("2026-12", 128))]
    svg = line_chart("收缩压（mmHg）", points)
    dates = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="(\w+)"[^>]*>(\d{4}-\d{2})<', svg)
    assert [(anchor, label) for _x, anchor, label in dates] == [
        ("start", "2025-11"),
        ("end", "2026-12"),
    ]
    assert float(dates[-1][0]) <= WIDTH  # "end": the text ends at the last point
    one = line_chart("体重（kg）", [Point("2026-12", 70, False)])
    assert 'text-anchor="middle" fill="#667382">2026-12<' in one
