"""lib/charts.py: server-drawn SVG charts that the strict CSP allows, that scale on a phone and that never
let a label become markup."""

import math
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from madoguchi.lib import charts
from madoguchi.lib.charts import Bar, Point

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def rect_widths(root: ET.Element) -> list[float]:
    return [float(r.get("width")) for r in root.iter(f"{SVG}rect")]


def test_horizontal_bars_are_an_image_with_a_name_sized_by_its_view_box():
    svg = charts.horizontal_bars(
        [Bar("使いやすい", 30, "30件（60.0%）"), Bar("使いにくい", 10), Bar("無回答", 0)],
        title="使いやすさの回答",
        max_value=50,
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "使いやすさの回答"
    assert root.find(f"{SVG}title").text == "使いやすさの回答"
    assert root.get("width") == "min(100%, 32rem)" and root.get("height") is None
    assert re.fullmatch(r"0 0 400 \d+(\.\d)?", root.get("viewBox"))
    assert texts(root) == ["使いやすい", "30件（60.0%）", "使いにくい", "10", "無回答", "0"]
    full = 400 - 160
    assert rect_widths(root) == [full * 30 / 50, full * 10 / 50, 1.5]  # a zero keeps a hairline


def test_bars_without_a_maximum_scale_to_the_largest_and_a_long_label_is_cut():
    label = "とても長い選択肢の説明文" * 10
    root = parse(charts.horizontal_bars([Bar(label, 4), Bar("短い", 2)], title="t"))
    widths = rect_widths(root)
    assert widths[0] == 2 * widths[1]
    shown = texts(root)[0]
    assert shown.endswith("…") and label.startswith(shown[:-1])
    assert charts.text_width(shown) <= 400


def test_every_label_is_escaped_and_no_style_or_script_is_drawn():
    evil = '"><script>alert(1)</script><svg onload="alert(2)'
    outputs = [
        charts.horizontal_bars([Bar(evil, 1, evil)], title=evil, description=evil),
        charts.monthly_bars([Bar(evil, 1, evil)], title=evil),
        charts.yearly_line([Point(evil, 1)], title=evil, target=2, target_label=evil),
    ]
    for svg in outputs:
        assert "<script" not in svg and "onload=" not in svg.replace("onload=&quot;", "")
        assert "style=" not in svg and "<style" not in svg
        assert "&lt;script&gt;" in svg
        root = parse(svg)
        assert root.get("aria-label") == evil
        assert all(not name.startswith("on") for el in root.iter() for name in el.attrib)


def test_monthly_bars_have_an_axis_and_a_bar_per_month():
    months = [
        Bar(f"{m}月", v) for m, v in zip([4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3], range(12), strict=True)
    ]
    root = parse(charts.monthly_bars(months, title="月ごとの申請件数"))
    assert len(list(root.iter(f"{SVG}rect"))) == 12
    labels = texts(root)
    assert "4月" in labels and "3月" in labels
    assert "15" in labels and "5" in labels  # the axis runs to a round 15 above the largest, 11, by 5s
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights == sorted(heights) and heights[0] == 0


def test_a_line_across_years_is_broken_where_a_year_has_no_value_and_shows_its_target():
    points = [
        Point("令和4年度", 120),
        Point("令和5年度", None),
        Point("令和6年度", 180),
        Point("令和7年度", 240),
    ]
    root = parse(
        charts.yearly_line(points, title="電子申請の件数", target=Decimal("200"), target_label="目標")
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1  # 令和4年度 stands alone; 令和6年度 and 令和7年度 are joined
    assert len(lines[0].get("points").split()) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 3
    target = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(target) == 1
    assert "目標 200" in texts(root)


def test_empty_charts_still_draw():
    for svg in (
        charts.horizontal_bars([], title="なし"),
        charts.monthly_bars([], title="なし"),
        charts.yearly_line([], title="なし"),
        charts.yearly_line([Point("令和7年度", None)], title="なし", target=None),
    ):
        assert parse(svg).get("role") == "img"


def test_numbers_read_as_in_the_tables():
    assert charts.format_number(1234) == "1,234"
    assert charts.format_number(Decimal("12.50")) == "12.5"
    assert charts.format_number(Decimal("1E+3")) == "1,000"
    assert charts.format_number(0.5) == "0.5"
    assert charts.format_number(float("inf")) == charts.format_number(float("nan")) == "-"


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False))
def test_an_axis_top_is_round_and_at_least_the_value(value):
    top = charts.nice_ceiling(value)
    assert top >= value * (1 - 1e-9)
    assert top <= value * 1.5 * (1 + 1e-9)  # never far above
    mantissa = top / 10 ** math.floor(math.log10(top) + 1e-12)
    assert any(math.isclose(mantissa, step) for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10))


@example(labels=["a"] * 8, values=[0, 0, 5e-324, 0, 0, 0, 0, 0])  # the smallest float: an axis still
@given(
    labels=st.lists(st.text(max_size=60), min_size=1, max_size=8),
    values=st.lists(
        st.one_of(st.integers(-5, 10**9), st.floats(allow_nan=True, allow_infinity=True)), min_size=8
    ),
)
def test_any_labels_and_values_give_well_formed_svg(labels, values):
    bars = [Bar(label, value) for label, value in zip(labels, values, strict=False)]
    points = [Point(label, value) for label, value in zip(labels, values, strict=False)]
    for svg in (
        charts.horizontal_bars(bars, title=labels[0]),
        charts.monthly_bars(bars, title=labels[0]),
        charts.yearly_line(points, title=labels[0], target=values[0] if math.isfinite(values[0]) else None),
    ):
        root = parse(svg)  # well-formed XML whatever the text: escaped, no control characters
        for el in list(root.iter())[1:]:
            for name in ("width", "height", "x", "y", "cx", "cy"):
                if el.get(name) is not None:
                    number = float(el.get(name))
                    assert math.isfinite(number)
                    assert number >= 0 or name in ("x", "y")
