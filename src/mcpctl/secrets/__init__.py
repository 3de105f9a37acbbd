"""Secret handling: sealing plaintext-backend values for git (backends come next)."""

from mcpctl.secrets.sealing import (
    KEY_ENV,
    KEY_FILE,
    Sealer,
    SealingError,
    generate_key_file,
    load_sealer,
)

__all__ = ["KEY_ENV", "KEY_FILE", "Sealer", "SealingError", "generate_key_file", "load_sealer"]
