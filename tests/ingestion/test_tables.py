"""Table rows as self-describing lines."""

from __future__ import annotations

import pytest

from ingestion.tables import html_table_lines, rows_to_lines

pytestmark = pytest.mark.unit


def test_a_header_row_names_each_value() -> None:
    rows = [["item", "price", "note"], ["lantern", "12", ""], ["compass", "30", "brass"]]
    assert rows_to_lines(rows) == ["item: lantern; price: 12", "item: compass; price: 30; note: brass"]


def test_rows_without_a_header_keep_their_cells() -> None:
    assert rows_to_lines([["1", "2"], ["3", "4"]]) == ["1 | 2", "3 | 4"]
    assert rows_to_lines([["only one row", "here"]]) == ["only one row | here"]


def test_empty_rows_and_trailing_cells_are_dropped_and_missing_names_numbered() -> None:
    rows = [
        ["name", "", "city", "", ""],
        [],
        ["", "", "", ""],
        ["Ada", "x", "London"],
        ["Linus", "", "Helsinki", "extra"],
    ]
    assert rows_to_lines(rows) == ["name: Ada; column 2: x; city: London", "name: Linus; city: Helsinki; extra"]


def test_a_forced_header_may_hold_numbers() -> None:
    assert rows_to_lines([["2023", "2024"], ["10", "12"]], header=True) == ["2023: 10; 2024: 12"]
    assert rows_to_lines([["2023", "2024"], ["10", "12"]]) == ["2023 | 2024", "10 | 12"]


def test_html_table_cells_are_read_with_their_text() -> None:
    html = (
        "<table><thead><tr><th>station</th><th>rain <b>(mm)</b></th></tr></thead>"
        "<tbody><tr><td>Brest</td><td>1 120</td></tr><tr><td>Nice</td><td>\n 767 </td></tr></tbody></table>"
    )
    assert html_table_lines(html) == ["station: Brest; rain (mm): 1 120", "station: Nice; rain (mm): 767"]
    assert html_table_lines("") == []


def test_html_th_cells_make_a_header_even_of_numbers() -> None:
    html = "<table><tr><th>2023</th><th>2024</th></tr><tr><td>10</td><td>12</td></tr></table>"
    assert html_table_lines(html) == ["2023: 10; 2024: 12"]
