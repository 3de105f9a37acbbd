"""Running MCP servers: the drivers behind one protocol (`base.Driver`).

The reconciler (on the leader) hands a driver a `Launch` per instance and
reads back what runs (`Observed`) and every exit (`Exit`); the MCP channel
(`upstream`) speaks over the driver's `StdioPipe` or an HTTP `Endpoint`.

- `ProcessDriver` (`process`): `command` servers as children of mcpd, each in
  a process group of its own, with a minimal environment, the death signal,
  records that let the next mcpd end what a killed one left (`records`), and
  bounded rotated logs (`logfiles`);
- `ExternalDriver` (`external`): `externalUrl` servers, reached, not run;
- `DockerDriver` (`docker`): `image` servers as containers, the only module
  importing the `docker` SDK (imported by who needs it: `mcpctl.runtime.docker`).

See docs/architecture.md, "The runtime (`runtime`)".
"""

from mcpctl.runtime.base import (
    Driver,
    Endpoint,
    Exit,
    Launch,
    Limits,
    Observed,
    RuntimeName,
    RuntimeUnavailable,
    Secret,
    StdioPipe,
    TransportName,
)
from mcpctl.runtime.external import ExternalDriver
from mcpctl.runtime.process import ProcessDriver

__all__ = [
    "Driver",
    "Endpoint",
    "Exit",
    "ExternalDriver",
    "Launch",
    "Limits",
    "Observed",
    "ProcessDriver",
    "RuntimeName",
    "RuntimeUnavailable",
    "Secret",
    "StdioPipe",
    "TransportName",
]
