"""mcpd's HTTP edge: the starlette app for `/api/v1`, errors as problem+json, OpenAPI."""
