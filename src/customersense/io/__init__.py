"""Readers (any source -> standard columns) and atomic writers."""
