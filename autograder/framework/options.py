"""Values a TA gives on the command line, parsed without click (the CLI turns BadOption into its usage error).

Library functions raise BadOption, a ValueError naming the option; `autograder/cli/` shows it as
click's "Invalid value for '--option'" and exits 2.
"""

from __future__ import annotations

from pathlib import Path


class BadOption(ValueError):
    """An option's value cannot be used; `option` names it (e.g. "--slot"), the message says why."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option


def parse_require(text: str, known: tuple[str, ...]) -> list[str]:
    """'network,uid' -> ['network', 'uid']; a name not in `known` (sandbox.REQUIREMENTS) is refused."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadOption(f"unknown {', '.join(unknown)}; choose from {', '.join(known)}", "--require")
    return names


def selection_args(tests_dir: Path, test: str) -> list[str]:
    """pytest arguments selecting `test`: a node id or test file (found under tests_dir), else a -k expression."""
    path, sep, rest = test.partition("::")
    if sep or path.endswith(".py"):
        direct = tests_dir / path
        found = [direct] if direct.is_file() else sorted(tests_dir.rglob(Path(path).name))
        if not found:
            raise BadOption(f"no test file {path!r} under {tests_dir}", "--test")
        if len(found) > 1:
            raise BadOption(f"{path!r} matches {len(found)} files; give its path under {tests_dir}", "--test")
        return [str(found[0].resolve()) + sep + rest]
    return ["-k", test]
