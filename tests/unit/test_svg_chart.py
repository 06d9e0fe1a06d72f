"""The printed report's trend charts: the dates at both ends stay inside the chart."""

from __future__ import annotations

import re
from itertools import pairwise

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


def _texts(svg: str, fill: str) -> list[str]:
    return re.findall(rf'fill="{fill}">([^<]+)</text>', svg)


def test_points_are_labelled_with_their_values_as_measured() -> None:
    # A lipid chart of a stage summary: 1.98 was labelled "2" and 1.66 (normal, < 1.7)
    # "1.7", against the table beside the chart.
    values = (("2026-03", 1.85), ("2026-06", 1.98), ("2026-09", 1.66))
    svg = line_chart("低密度脂蛋白胆固醇（mmol/L）", [Point(d, v) for d, v in values])
    assert _texts(svg, "#206bc4") == ["1.85", "1.98", "1.66"]
    assert "135" in _texts(line_chart("收缩压（mmHg）", [Point("2026-03", 135)]), "#206bc4")


def test_axis_labels_are_told_apart() -> None:
    values = (("2025-10", 4.47), ("2026-03", 4.3), ("2026-06", 4.23), ("2026-11", 4.45))
    svg = line_chart("总胆固醇（mmol/L）", [Point(d, v) for d, v in values])
    ticks = [t for t in _texts(svg, "#667382") if not re.fullmatch(r"\d{4}-\d{2}", t)]
    assert len(ticks) == 5
    assert len(set(ticks)) == 5, ticks


def test_the_dates_below_do_not_run_into_each_other() -> None:
    for count in range(1, 14):
        labels = [f"2026-{n + 1:02d}" for n in range(count)]
        svg = line_chart("收缩压（mmHg）", [Point(d, 120 + n) for n, d in enumerate(labels)])
        dates = re.findall(
            r'<text x="([\d.]+)" y="\d+" text-anchor="(\w+)"[^>]*>(\d{4}-\d{2})<', svg
        )
        assert dates[0][2] == labels[0] and dates[-1][2] == labels[-1]
        assert len(dates) <= 5
        # Each label is about 35 px wide; where each starts and ends by its anchor.
        spans = []
        for x, anchor, _label in dates:
            start = {"start": 0.0, "middle": -17.5, "end": -35.0}[anchor] + float(x)
            spans.append((start, start + 35.0))
        for (_a, end), (start, _b) in pairwise(spans):
            assert end <= start, (count, dates)


def test_an_axis_of_counts_never_goes_below_0() -> None:
    # Cigarettes a day falling to none: the axis read -0.8 under the smoke-free days.
    values = (("11-17", 8), ("11-18", 2), ("11-19", 0), ("11-20", 0))
    svg = line_chart("每日吸烟量", [Point(d, v) for d, v in values])
    ticks = [t for t in _texts(svg, "#667382") if not re.fullmatch(r"\d{2}-\d{2}", t)]
    assert "0" in ticks and not any(t.startswith("-") for t in ticks)
    low = line_chart("体重（kg）", [Point("2026-11", 70), Point("2026-12", 68)])
    assert "67.8" in _texts(low, "#667382")  # measurements far from 0 keep their margin
    none = line_chart("每日吸烟量", [Point("12-01", 0), Point("12-02", 0)])
    assert not any(t.startswith("-") for t in _texts(none, "#667382"))  # smoke-free throughout
