"""Test harness shipped with the tests: real PostgreSQL and real mcpd processes."""
