"""Errors that reach users as one clear message (no traceback) from every command."""

#: Exit status of a command refused for bad input (the one-line message names the file).
EXIT_BAD_INPUT = 2
#: A CUDA out-of-memory (EX_TEMPFAIL): Nextflow retries SCACT_TRAIN with a smaller --batch-size on it
#: (the step table, scact.steps), so it must differ from every other failure.
EXIT_CUDA_OUT_OF_MEMORY = 75


class ScactInputError(Exception):
    """Bad input: the message names the file (or parameter) and what to do about it."""


def input_error(path, problem: str, fix: str | None = None) -> ScactInputError:
    """Build a ScactInputError that always names the offending file first."""
    message = f"{path}: {problem}"
    if fix:
        message += f" ({fix})"
    return ScactInputError(message)
