"""Secret handling: sealing plaintext-backend values for git (backends come next)."""

from mcpctl.secrets.sealing import (
    KEY_ENV,
    KEY_FILE,
    MissingKey,
    Sealer,
    SealingError,
    generate_key_file,
    install_key,
    key_configured,
    load_sealer,
    missing_key,
)

__all__ = [
    "KEY_ENV",
    "KEY_FILE",
    "MissingKey",
    "Sealer",
    "SealingError",
    "generate_key_file",
    "install_key",
    "key_configured",
    "load_sealer",
    "missing_key",
]
