"""mcpctl: a GitOps control plane for MCP servers.

This module is imported by every command, so it imports nothing: the CLI's
start-up time depends on it.
"""

__version__ = "0.1.0"
