"""The one CSV writer: one rule for cells, formulas neutralised, a byte order mark where spreadsheets read it."""

import csv
import io

import pytest

from plumbing import csvfile


def test_it_writes_empty_for_none_one_and_zero_for_booleans_and_full_precision_numbers():
    text = csvfile.text(["a", "b", "c", "d"], [{"a": None, "b": True, "c": False, "d": 2 / 3}])
    assert text == "a,b,c,d\n,1,0,0.6666666666666666\n"


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised(cell):
    [row] = list(csv.reader(io.StringIO(csvfile.text(["patient"], [{"patient": cell}]), newline="")))[1:]
    assert row == ["'" + cell.replace("\r", "\n")]


def test_numbers_are_never_neutralised():
    assert csvfile.text(["gap"], [[-3.5]]) == "gap\n-3.5\n"
    assert csvfile.cell(-1) == "-1"


def test_files_for_spreadsheets_start_with_a_byte_order_mark_once():
    lines = list(csvfile.lines(["name"], [["dra.muñoz"], ["b"]], bom=True))
    assert lines[0].startswith(csvfile.BOM) and not any(line.startswith(csvfile.BOM) for line in lines[1:])
    assert "".join(lines).encode("utf-8").decode("utf-8-sig").splitlines() == ["name", "dra.muñoz", "b"]


def test_rows_may_be_dicts_with_extra_or_missing_keys_or_sequences():
    assert csvfile.text(["a", "b"], [{"a": 1, "z": 9}, [3, 4]]) == "a,b\n1,\n3,4\n"


def test_a_line_break_inside_a_comment_stays_inside_its_cell():
    rows = list(csv.reader(io.StringIO(csvfile.text(["comment", "n"], [["first\r\nsecond\rthird", 2]]), newline="")))
    assert rows == [["comment", "n"], ["first\nsecond\nthird", "2"]]
