"""The run as one Excel workbook (.xlsx), written by a streaming writer of our own (see
:mod:`.xlsx` for why not openpyxl); openpyxl reads it back in the tests."""

from .workbook import MAX_DATA_ROWS, write_workbook

__all__ = ["MAX_DATA_ROWS", "write_workbook"]
