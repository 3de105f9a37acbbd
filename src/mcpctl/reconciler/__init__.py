"""The loops that drive two sides to agreement, under one supervisor.

Today the git <-> database loops (docs/architecture.md, "The flows and the
invariant"):

- `exporting`: every committed write becomes one commit of the state repo;
- `importing`: a commit that reaches the state repo (push, mirror, restore)
  becomes one database write, the database winning conflicts;
- `restoring`: the database back to any commit, the abandoned history kept on
  a timeline branch; disaster recovery of an empty database;
- `mirroring`: `main` pushed to a remote, commits made there imported.

The runtime loops (Servers -> running instances, health probes) and leader
election join here. Each loop runs under `supervisor`, which starts, stops,
retries with back-off and reports it.
"""
