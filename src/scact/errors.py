"""Errors that reach users as one clear message (no traceback) from every command."""


class ScactInputError(Exception):
    """Bad input: the message names the file (or parameter) and what to do about it."""


def input_error(path, problem: str, fix: str | None = None) -> ScactInputError:
    """Build a ScactInputError that always names the offending file first."""
    message = f"{path}: {problem}"
    if fix:
        message += f" ({fix})"
    return ScactInputError(message)
