"""Reading, checking, ordering, rendering and comparing manifests.

Knows nothing of databases, HTTP or git, so that CI can validate manifests
with no server: `load_paths` -> `check_set` -> `apply_order` / `diff_sets`,
and `dump_object` for the canonical form the state repo stores.
"""

from mcpctl.manifests.canonical import Sealer, dump_object, dump_objects, to_plain
from mcpctl.manifests.diffing import HIDDEN, MISSING, Change, ChangeSet, FieldChange, diff_sets
from mcpctl.manifests.loading import (
    MAX_FILE_SIZE,
    LoadResult,
    Manifest,
    Origin,
    discover_files,
    load_bytes,
    load_paths,
    load_text,
    validate_object,
)
from mcpctl.manifests.ordering import apply_order, delete_order
from mcpctl.manifests.references import Catalog, Key, format_key, iter_references
from mcpctl.manifests.validation import check_sealable, check_set

__all__ = [
    "HIDDEN",
    "MAX_FILE_SIZE",
    "MISSING",
    "Catalog",
    "Change",
    "ChangeSet",
    "FieldChange",
    "Key",
    "LoadResult",
    "Manifest",
    "Origin",
    "Sealer",
    "apply_order",
    "check_sealable",
    "check_set",
    "delete_order",
    "diff_sets",
    "discover_files",
    "dump_object",
    "dump_objects",
    "format_key",
    "iter_references",
    "load_bytes",
    "load_paths",
    "load_text",
    "to_plain",
    "validate_object",
]
