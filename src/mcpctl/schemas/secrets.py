"""SecretBackend and Secret: where secret values live, and the values themselves.

A Secret's values are plaintext only on the way in. In git they are sealed
(`sealedData`), in output they are masked (a key with a null value), and an
OpenBao-backed Secret keeps only its keys. A null value on input means "keep
the value already stored".
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from mcpctl.schemas._base import (
    Model,
    Name,
    ObjectMeta,
    Resource,
    SecretKey,
    SecretKeyRef,
    Url,
)


class SecretBackendSpec(Model):
    """Where the values of Secrets are kept."""

    type: Literal["plaintext", "openbao"]
    """`plaintext`: in mcpd's database (sealed in git);
    `openbao`: an OpenBao or Vault KV v2 mount."""
    default: bool = False
    """Secrets that name no backend use the default one; exactly one backend is the default."""
    url: Url | None = None
    """openbao: the server's address, e.g. `https://bao.example.com:8200`."""
    mount: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")] = (
        "secret"
    )
    """openbao: the KV v2 mount point."""
    path_prefix: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
    ] = "mcpctl"
    """openbao: the path under the mount where mcpctl keeps its secrets."""
    namespace: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    """openbao: the namespace (Vault Enterprise / OpenBao namespaces), if any."""
    token_secret_ref: SecretKeyRef | None = None
    """openbao: the Secret and key holding the token mcpd authenticates with."""

    @model_validator(mode="after")
    def _check_type_fields(self) -> SecretBackendSpec:
        if self.type == "openbao":
            missing = [
                alias
                for alias, value in (("url", self.url), ("tokenSecretRef", self.token_secret_ref))
                if value is None
            ]
            if missing:
                raise ValueError(f"an openbao backend needs {' and '.join(missing)}")
        else:
            given = [
                alias
                for alias, field in (
                    ("url", "url"),
                    ("mount", "mount"),
                    ("pathPrefix", "path_prefix"),
                    ("namespace", "namespace"),
                    ("tokenSecretRef", "token_secret_ref"),
                )
                if field in self.model_fields_set
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} only apply to an openbao backend, not to {self.type}"
                )
        return self


class SecretBackend(Resource):
    KIND: ClassVar[str] = "SecretBackend"
    PLURAL: ClassVar[str] = "secretbackends"

    kind: Literal["SecretBackend"]
    metadata: ObjectMeta
    spec: SecretBackendSpec


SecretValue = Annotated[str, StringConstraints(max_length=1_048_576)]
SealedValue = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9._:+/=-]+$", max_length=2_000_000)
]


class SecretSpec(Model):
    """Named values (API keys, tokens) that servers, LLMs and backends refer to."""

    backend: Name | None = None
    """The SecretBackend keeping the values; the default backend if omitted."""
    data: dict[SecretKey, SecretValue | None] = Field(default_factory=dict)
    """Values in plaintext on input.
    A null value keeps the stored one (output masks values this way)."""
    sealed_data: dict[SecretKey, SealedValue] = Field(default_factory=dict)
    """Values sealed with the state repo's key: the form written to git."""

    @model_validator(mode="after")
    def _check_keys(self) -> SecretSpec:
        both = sorted(set(self.data) & set(self.sealed_data))
        if both:
            raise ValueError(f"keys {', '.join(both)} appear in both data and sealedData")
        return self

    def keys(self) -> frozenset[str]:
        """Every key this Secret defines, whatever form its value is in."""
        return frozenset(self.data) | frozenset(self.sealed_data)


class Secret(Resource):
    KIND: ClassVar[str] = "Secret"
    PLURAL: ClassVar[str] = "secrets"

    kind: Literal["Secret"]
    metadata: ObjectMeta
    spec: SecretSpec
