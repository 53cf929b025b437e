"""``python -m tests.jobs.fwscan scan ...``: the real CLI with the test analyzer registered.

Subprocess tests (kill and resume) need the ``redbox`` analyzer in the child
process; importing it registers it before the CLI builds its Moderator.
"""

from __future__ import annotations

import tests.jobs.redbox  # noqa: F401  (registers "redbox")
from framewarden.cli import run

if __name__ == "__main__":
    run()
