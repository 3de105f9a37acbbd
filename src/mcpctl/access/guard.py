"""The guards every write passes: no escalation, no lock-out.

A write may add to a principal's effective permissions only what the writer
itself holds, and may not leave the installation without an enabled principal
holding every permission (the admin set).
"""

from __future__ import annotations

#: Whether the guards run. Only the property test turns them off (in its own mcpd
#: process), to prove it finds the escalations they stop; no setting reaches it.
ENFORCED = True
