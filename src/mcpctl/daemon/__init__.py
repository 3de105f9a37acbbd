"""`mcpd`: settings, wiring, and the order in which its parts start and stop.

The one wiring place: `settings` reads the command line and environment into
grouped settings, `wiring` builds the engine, state repo, sealer, services and
loops from them, and `main` runs recovery, bootstrap, the loops and the HTTP
server, stopping them in reverse order. Nothing else reads settings.
"""
