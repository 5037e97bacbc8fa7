"""The one error type: what is wrong, and where."""

from __future__ import annotations


class ExportError(Exception):
    """Bad input or a refused write; shown as one line, exit status 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"
