"""The `autograder` command: every click command lives in this package, one group of commands per module.

grade.py   grade, check                          one handin; the pre-deploy check
ship.py    handout, gradescope, autolab, prairielearn   what course staff ship
regrade.py regrade                               a whole class from a Gradescope export
common.py  --assignment (through the registry), echo, library errors -> click usage errors

`--assignment NAME_OR_PATH` is optional only while exactly one assignment is registered; with several
it is required (the error lists the names), or read from $AUTOGRADER_ASSIGNMENT (the Makefile passes
ASSIGNMENT=...).
"""

from __future__ import annotations

import click

from autograder.cli.grade import check_command, grade_command
from autograder.cli.regrade import regrade_command
from autograder.cli.ship import autolab_command, gradescope_command, handout_command, prairielearn_command


@click.group(epilog="Run `autograder COMMAND --help` for each command's options, with examples.")
@click.version_option(package_name="autograder")
def main() -> None:
    """Sandboxed autograder for autograd homework: one framework, several assignments (see README.md)."""


for _command in (
    grade_command,
    check_command,
    handout_command,
    gradescope_command,
    autolab_command,
    prairielearn_command,
    regrade_command,
):
    main.add_command(_command)
