"""The OpenAPI 3.1 document of `/api/v1`, built from the kind registry and the schemas.

It describes every route of `app.py` as it behaves: the statuses each can
answer, problem bodies as `application/problem+json`, and the shapes of the
answers (stored objects validate against `Manifest`), so that a client, or
schemathesis, can check the API against it. `serve_openapi` serves it at
`/api/v1/openapi.json`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mcpctl import __version__
from mcpctl.api.endpoints import JSONResponse
from mcpctl.api.openapi.components import component_schemas
from mcpctl.api.openapi.paths import api_paths

__all__ = ["openapi_document", "serve_openapi"]


def openapi_document() -> dict[str, Any]:
    """The whole document: its info, the component schemas and every path."""
    schemas = component_schemas()
    paths = api_paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mcpd",
            "version": __version__,
            "description": "The mcpctl control plane API. The state repo is served "
            "at `/git/state.git` by git's smart HTTP protocol, which this document leaves out.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


async def serve_openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())
