"""The `autograder` command: grade, check, handout, gradescope, autolab, prairielearn, regrade."""

from __future__ import annotations

import click

from autograder.framework.check import check_command
from autograder.framework.grade import grade_command
from autograder.framework.gradescope_zip import gradescope_command
from autograder.framework.handoutgen import handout_command
from autograder.framework.platforms import autolab_command, prairielearn_command
from autograder.framework.regrade import regrade_command


@click.group(epilog="Run `autograder COMMAND --help` for each command's options, with examples.")
@click.version_option(package_name="autograder")
def main() -> None:
    """Sandboxed autograder for the mytorch autograd homework (see docs/ARCHITECTURE.md)."""


for _command in (grade_command, check_command, handout_command, gradescope_command, autolab_command,
                 prairielearn_command, regrade_command):
    main.add_command(_command)
