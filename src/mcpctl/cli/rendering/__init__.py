"""What the commands print, in one place: each module renders one kind of thing.

- `objects`: API objects as `get` prints them (tables per kind, canonical
  YAML, JSON, names), an answer of `create`, and the table and age formats
  `describe` and `config get-contexts` reuse;
- `description`: the text of `describe`;
- `changes`: a change set as `diff` shows it (text, JSON, unified), and the
  fields `apply --watch` shows per object;
- `verbs`: the words for what became of an object, and summaries of counts;
- `issues`: validation issues as text, JSON, JUnit XML or GitHub annotations.

The commands (`mcpctl.cli.<command>`) decide what to fetch and what to print;
the modules here only turn data into text, and none imports a command. Kept
empty on purpose: each command imports the one renderer it needs when it
runs, since `description` and `changes` load pydantic.
"""
