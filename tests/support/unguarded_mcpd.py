"""mcpd with the write guards off: what the property test runs to show it finds escalations.

`mcpctl.access.guard.ENFORCED` is the one switch of the no-escalation and
lock-out guards; no setting of mcpd reaches it. This file turns it off in its
own process and then runs mcpd's entry point with the same arguments as the
`mcpd` command. Started by path (`mcpd.unguarded_mcpd_command`), so it needs
nothing of `tests` on the import path.
"""

from __future__ import annotations

import sys

import mcpctl.access.guard as guard
from mcpctl.daemon.main import main

if __name__ == "__main__":
    guard.ENFORCED = False
    main(sys.argv[1:])
