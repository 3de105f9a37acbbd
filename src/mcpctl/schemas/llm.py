"""Llm: a language model that projects use for gating and summaries."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue, StringConstraints, model_validator

from mcpctl.schemas._base import Model, ObjectMeta, Resource, SecretKeyRef, ShortText, Url

LlmType = Literal["anthropic", "openai", "deepseek", "vllm", "ollama", "gemini-cli"]

#: Providers reached over a public API: they need an API key.
KEYED_TYPES = frozenset({"anthropic", "openai", "deepseek"})
#: Providers that are self-hosted: they need the URL of the host.
HOSTED_TYPES = frozenset({"vllm"})


class LlmSpec(Model):
    """A model, the provider serving it, and how to authenticate."""

    type: LlmType
    """The provider."""
    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    """The provider's model identifier, e.g. `claude-haiku-4-5`."""
    url: Url | None = None
    """The endpoint; required for vllm, optional where the provider has a default."""
    tier: Literal["fast", "heavy"] = "fast"
    """`fast` models gate sessions and pick prompts; `heavy` ones do the deeper work."""
    description: ShortText = ""
    """What this entry is for."""
    api_key_ref: SecretKeyRef | None = None
    """The Secret and key holding the API key; required for anthropic, openai and deepseek."""
    extra: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], JsonValue] = Field(
        default_factory=dict
    )
    """Provider-specific settings (temperature, max tokens, ...)."""

    @model_validator(mode="after")
    def _check_provider_needs(self) -> LlmSpec:
        if self.type in KEYED_TYPES and self.api_key_ref is None:
            raise ValueError(f"an {self.type} Llm needs apiKeyRef")
        if self.type in HOSTED_TYPES and self.url is None:
            raise ValueError(f"a {self.type} Llm needs url")
        return self


class Llm(Resource):
    KIND: ClassVar[str] = "Llm"
    PLURAL: ClassVar[str] = "llms"

    kind: Literal["Llm"]
    metadata: ObjectMeta
    spec: LlmSpec
