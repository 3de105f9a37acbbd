"""The project's conformance fixture: the "everything server" the MCP conformance suite
expects behind the URL it tests, on the `mcp` SDK's `MCPServer`.

The suite's server scenarios (`@modelcontextprotocol/conformance`, its
`src/scenarios/server/`) each name the tools, resources and prompts they call and what
an answer must hold; this server offers exactly those, so that a scenario that fails
against it (or against mcpd's `/mcp/<project>` with it behind) fails because of what
lies between, not because the fixture lacks a feature. `tests/conformance/` runs the
suite against it. A standalone script that imports nothing of mcpctl's, like
`testserver.py`:

    python everything.py [--transport stdio|streamable-http] [--host H] [--port P]

It serves both protocol eras as the SDK does: the session era (2025-11-25 and older:
`initialize`, `Mcp-Session-Id`, server-to-client requests) and the stateless one
(2026-07-28: `server/discover`, `_meta` per request, input-required results). Over
HTTP it binds 127.0.0.1 unless told otherwise, at `/mcp`, and keeps every event of
its SSE streams in memory so that a client that reconnects with `Last-Event-ID`
gets what it missed (the suite's SSE polling scenario closes a stream on purpose).
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at
# registration, and they must be real types then.
import argparse
import asyncio
import base64
import json
import os
import sys
import warnings
from typing import Annotated, Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, RequestStateSecurity
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    JSONRPCMessage,
    ListRootsRequest,
    ListRootsResult,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field, JsonValue

#: A 1x1 PNG and a WAV header with two bytes of sound: the smallest valid media the
#: suite's image and audio checks accept (they check the type and the MIME type).
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WAV_TINY = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA=="

#: The request-state key. The SDK seals `requestState` (2026-07-28) with it, so a
#: client that alters the state it echoes is refused; a fixed key (not a per-process
#: one) keeps a retry valid across a restart of this server behind a proxy.
REQUEST_STATE_KEY = b"mcpctl conformance fixture: requestState sealing key"

SIMPLE_TEXT = "This is a simple text response for testing."


class MemoryEventStore(EventStore):
    """Every SSE event of every stream, in order, so that a client that reconnects with
    `Last-Event-ID` gets the rest of its stream (SEP-1699's polling). A conformance
    run is short: nothing is ever dropped."""

    def __init__(self) -> None:
        self._events: list[tuple[str, JSONRPCMessage | None]] = []

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        self._events.append((stream_id, message))
        return str(len(self._events))

    async def replay_events_after(
        self, last_event_id: str, send_callback: EventCallback
    ) -> str | None:
        if not last_event_id.isdigit() or not 0 < int(last_event_id) <= len(self._events):
            return None
        after = int(last_event_id)
        stream_id = self._events[after - 1][0]
        for index, (stream, message) in enumerate(self._events[after:], start=after + 1):
            # A priming event (no message) only gave the client an id to resume from.
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, str(index)))
        return stream_id


class UserReply(BaseModel):
    """What `test_elicitation` asks the user for."""

    response: str = Field(description="The user's reply")


class DefaultsForm(BaseModel):
    """SEP-1034: a default for each primitive type of an elicitation form."""

    name: str = Field(default="John Doe", description="Name")
    age: int = Field(default=30, description="Age")
    score: float = Field(default=95.5, description="Score")
    status: str = Field(
        default="active",
        description="Status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verified")


def _choices(*pairs: tuple[str, str]) -> list[JsonValue]:
    return [{"const": value, "title": title} for value, title in pairs]


class EnumsForm(BaseModel):
    """SEP-1330: the five ways an elicitation form offers a choice."""

    untitledSingle: str = Field(
        description="Single choice, no titles",
        json_schema_extra={"enum": ["option1", "option2", "option3"]},
    )
    titledSingle: str = Field(
        description="Single choice with titles",
        json_schema_extra={
            "oneOf": _choices(
                ("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")
            )
        },
    )
    legacyEnum: str = Field(
        description="Single choice with the deprecated enumNames",
        json_schema_extra={
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
    )
    untitledMulti: list[str] = Field(
        description="Several choices, no titles",
        json_schema_extra={"items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
    )
    titledMulti: list[str] = Field(
        description="Several choices with titles",
        json_schema_extra={
            "items": {
                "anyOf": _choices(
                    ("value1", "First Choice"),
                    ("value2", "Second Choice"),
                    ("value3", "Third Choice"),
                )
            }
        },
    )


#: SEP-1613: a tool input schema using JSON Schema 2020-12's keywords, which a server
#: (and a proxy) must list unchanged.
SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def _form(message: str, **fields: str) -> ElicitRequest:
    """An elicitation form (the 2026-07-28 input requests): each field, required, to its
    JSON type."""
    schema = {
        "type": "object",
        "properties": {field: {"type": kind} for field, kind in fields.items()},
        "required": list(fields),
    }
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def _ask_model(text: str, max_tokens: int) -> CreateMessageRequest:
    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=text))],
            max_tokens=max_tokens,
        )
    )


def _accepted(answer: object, field: str) -> object:
    """The field of an accepted elicitation's content, or None."""
    if isinstance(answer, ElicitResult) and answer.action == "accept" and answer.content:
        return answer.content.get(field)
    return None


def _schema_2020_12_tool() -> str:
    """Lists a JSON Schema 2020-12 input schema (SEP-1613)."""
    return "json_schema_2020_12_tool"


def _transient() -> str:
    """Added and removed at once by the list-change triggers."""
    return "transient"


def build_server() -> MCPServer:
    """The fixture, every tool, resource, prompt and handler registered."""
    # The suite's session-era scenarios call deprecated capabilities (sampling, roots,
    # logging: deprecated by 2026-07-28) on purpose.
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    schema_tool = Tool.from_function(_schema_2020_12_tool, name="json_schema_2020_12_tool")
    # MCPServer derives a tool's schema from its signature; a pydantic signature cannot
    # spell `if`/`then`/`$anchor`, so this tool's listed schema is replaced whole.
    schema_tool = schema_tool.model_copy(update={"parameters": SCHEMA_2020_12})
    server: MCPServer = MCPServer(
        "mcpctl-conformance-fixture",
        version="1.0.0",
        instructions="The MCP conformance suite's everything server, for mcpctl's tests.",
        tools=[schema_tool],
        request_state_security=RequestStateSecurity(keys=[REQUEST_STATE_KEY]),
    )
    _add_content_tools(server)
    _add_session_era_tools(server)
    _add_input_required_tools(server)
    _add_resources(server)
    _add_prompts(server)
    _add_handlers(server)
    return server


def _add_content_tools(server: MCPServer) -> None:
    """One tool per content type, and the tools of errors, logs and progress."""

    @server.tool()
    def test_simple_text() -> str:
        """Answers with one text."""
        return SIMPLE_TEXT

    @server.tool()
    def test_image_content() -> list[ImageContent]:
        """Answers with one PNG image."""
        return [ImageContent(type="image", data=PNG_1X1, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[AudioContent]:
        """Answers with one WAV sound."""
        return [AudioContent(type="audio", data=WAV_TINY, mime_type="audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """Answers with an embedded text resource."""
        resource = TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
        return [EmbeddedResource(type="resource", resource=resource)]

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Answers with a text, an image and an embedded resource."""
        resource = TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}),
        )
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=PNG_1X1, mime_type="image/png"),
            EmbeddedResource(type="resource", resource=resource),
        ]

    @server.tool()
    def test_error_handling() -> str:
        """Fails: the answer is a tool error (`isError`), not a protocol error."""
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three log messages while it runs."""
        for stage in ("started", "processing data", "completed"):
            await ctx.info(f"Tool execution {stage}")
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_logging_tool(ctx: Context) -> str:
        """Logs once: a 2026-07-28 client that set no log level must not receive it."""
        await ctx.info("a log message the client did not ask for")
        return "logged"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Reports progress 0, 50 and 100 of 100 (to a client that sent a progress
        token), then answers with that token."""
        for done in (0, 50, 100):
            await ctx.report_progress(done, 100, f"Completed step {done} of 100")
        meta = ctx.request_context.meta
        return str(meta.get("progress_token") if meta else None)

    @server.tool()
    def test_x_mcp_header(
        region: Annotated[
            str,
            Field(
                description="Mirrored into the Mcp-Param-Region header",
                json_schema_extra={"x-mcp-header": "Region"},
            ),
        ] = "none",
    ) -> str:
        """SEP-2243: an argument that HTTP clients mirror into a header, which the SDK
        checks against the argument."""
        return f"region={region}"

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """SEP-1699: closes its SSE stream mid-call; the client resumes it with
        `Last-Event-ID` and gets the rest (the event store replays it)."""
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        # Give the client its retry interval to come back before the rest is sent.
        await asyncio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.tool()
    async def test_trigger_tool_change(ctx: Context) -> str:
        """Changes the tool list, and says so to `subscriptions/listen` streams."""
        server.add_tool(_transient, name="test_transient_tool")
        server.remove_tool("test_transient_tool")
        await ctx.notify_tools_changed()
        return "tool list changed"

    @server.tool()
    async def test_trigger_prompt_change(ctx: Context) -> str:
        """Changes the prompt list, and says so to `subscriptions/listen` streams."""
        server.prompt(name="test_transient_prompt")(_transient)
        server.remove_prompt("test_transient_prompt")
        await ctx.notify_prompts_changed()
        return "prompt list changed"


def _add_session_era_tools(server: MCPServer) -> None:
    """The tools that send the client requests of their own (sampling, elicitation):
    the session era's way; the 2026-07-28 one is `_add_input_required_tools`'."""

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client's model to complete `prompt`."""
        message = SamplingMessage(role="user", content=TextContent(type="text", text=prompt))
        # Related to this request: the answer then travels on this call's stream, not
        # on the standalone GET stream, which the client may not have opened.
        result = await ctx.session.create_message(
            [message], max_tokens=100, related_request_id=ctx.request_id
        )
        text = result.content.text if result.content.type == "text" else "(not text)"
        return f"LLM response: {text}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the user for a reply."""
        result = await ctx.elicit(message, UserReply)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"User response: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Asks with a form whose every field has a default (SEP-1034)."""
        result = await ctx.elicit("Please review the defaults", DefaultsForm)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation result: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Asks with a form of each kind of choice (SEP-1330)."""
        result = await ctx.elicit("Please choose", EnumsForm)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation completed: action={result.action}, content={content}"

    @server.tool()
    async def test_missing_capability(ctx: Context) -> str:
        """Needs the client's sampling capability; a client that did not declare it gets
        the protocol error -32021 naming it, not a tool error."""
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="test_missing_capability needs the client's sampling capability",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        return "the client declared sampling"


def _add_input_required_tools(server: MCPServer) -> None:
    """SEP-2322 (2026-07-28): a tool that needs the client's input answers with an
    input-required result; the client retries with the answers (and the state)."""

    @server.tool()
    async def test_streaming_elicitation(ctx: Context) -> str | InputRequiredResult:
        """Needs a name: the stream of its call carries a result, never a request."""
        name = _accepted((ctx.input_responses or {}).get("name"), "name")
        if name is not None:
            return f"Hello, {name}!"
        return InputRequiredResult(input_requests={"name": _form("Your name?", name="string")})

    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
        """One elicitation."""
        responses = ctx.input_responses or {}
        if "user_name" in responses:
            return f"Hello, {_accepted(responses['user_name'], 'name') or 'stranger'}!"
        return InputRequiredResult(
            input_requests={"user_name": _form("What is your name?", name="string")}
        )

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
        """One sampling request."""
        answer = (ctx.input_responses or {}).get("capital_question")
        if answer is not None:
            said = (
                answer.content.text
                if isinstance(answer, CreateMessageResult) and answer.content.type == "text"
                else "(not text)"
            )
            return f"Model said: {said}"
        question = _ask_model("What is the capital of France?", 100)
        return InputRequiredResult(input_requests={"capital_question": question})

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
        """One roots request."""
        answer = (ctx.input_responses or {}).get("client_roots")
        if answer is not None:
            count = len(answer.roots) if isinstance(answer, ListRootsResult) else 0
            return f"Client exposed {count} root(s)."
        return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
        """One elicitation with a state that must come back unchanged."""
        if "confirm" in (ctx.input_responses or {}) and ctx.request_state == "awaiting-confirm":
            return "state-ok: confirmation received"
        return InputRequiredResult(
            input_requests={"confirm": _form("Please confirm", ok="boolean")},
            request_state="awaiting-confirm",
        )

    @server.tool()
    async def test_input_required_result_multiple_inputs(
        ctx: Context,
    ) -> str | InputRequiredResult:
        """An elicitation, a sampling request and a roots request at once."""
        wanted = {"user_name", "greeting", "client_roots"}
        if wanted <= (ctx.input_responses or {}).keys():
            return "All inputs received."
        return InputRequiredResult(
            input_requests={
                "user_name": _form("What is your name?", name="string"),
                "greeting": _ask_model("Write a greeting", 50),
                "client_roots": ListRootsRequest(),
            },
            request_state="multiple-inputs",
        )

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
        """Three rounds: a name, then a colour, then the answer; the state says which
        round the client is in and carries the name."""
        state = json.loads(ctx.request_state) if ctx.request_state else {"round": 0}
        responses = ctx.input_responses or {}
        if state["round"] == 1 and "step1" in responses:
            name = _accepted(responses["step1"], "name")
            return InputRequiredResult(
                input_requests={
                    "step2": _form("Step 2: What is your favorite color?", color="string")
                },
                request_state=json.dumps({"round": 2, "name": name}),
            )
        if state["round"] == 2 and "step2" in responses:
            return f"{state['name']} likes {_accepted(responses['step2'], 'color')}."
        # The first round, or an answer that does not fit the state: from the start.
        return InputRequiredResult(
            input_requests={"step1": _form("Step 1: What is your name?", name="string")},
            request_state=json.dumps({"round": 1}),
        )

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
        """Asks once with a state; a state the client altered is refused by the SDK's
        sealing (`REQUEST_STATE_KEY`) before this runs again."""
        if ctx.request_state is None:
            return InputRequiredResult(
                input_requests={"confirm": _form("Please confirm", ok="boolean")},
                request_state="round-1",
            )
        return f"state-ok: {ctx.request_state}"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
        """Asks only for the inputs the client declared it can give."""
        capabilities = ctx.client_capabilities
        requests: dict[str, InputRequest] = {}
        if capabilities is None or capabilities.sampling is not None:
            requests["sample"] = _ask_model("Say hello", 50)
        if capabilities is None or capabilities.elicitation is not None:
            requests["ask"] = _form("What is your name?", name="string")
        return InputRequiredResult(input_requests=requests, request_state="capability-gated")


def _add_resources(server: MCPServer) -> None:
    @server.resource("test://static-text")
    def static_text() -> str:
        """A fixed text."""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A fixed PNG image."""
        return base64.b64decode(PNG_1X1)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:
        """Data for an id taken from the URI."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource")
    def watched() -> str:
        """A resource a client may subscribe to."""
        return "Watched resource content"


def _add_prompts(server: MCPServer) -> None:
    @server.prompt()
    def test_simple_prompt() -> list[Message]:
        """A prompt without arguments."""
        return [UserMessage("This is a simple prompt for testing.")]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[Message]:
        """A prompt of two required arguments."""
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
        """A prompt that embeds the resource it is given."""
        resource = TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            UserMessage(EmbeddedResource(type="resource", resource=resource)),
            UserMessage("Please process the embedded resource above."),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[Message]:
        """A prompt that holds an image."""
        return [
            UserMessage(ImageContent(type="image", data=PNG_1X1, mime_type="image/png")),
            UserMessage("Please analyze the image above."),
        ]

    @server.prompt()
    async def test_input_required_result_prompt(
        ctx: Context,
    ) -> list[Message] | InputRequiredResult:
        """SEP-2322 outside tools: a prompt that needs the user's input first."""
        answer = (ctx.input_responses or {}).get("user_context")
        if answer is not None:
            return [UserMessage(f"Use the following context: {_accepted(answer, 'context')}")]
        return InputRequiredResult(
            input_requests={
                "user_context": _form("What context should the prompt use?", context="string")
            }
        )


def _add_handlers(server: MCPServer) -> None:
    """The session era's logging level and resource subscriptions, and completions.

    MCPServer has no public hook for `logging/setLevel` and `resources/subscribe`
    (the 2026-07-28 revision removed both), and its `completion()` decorator is untyped;
    all are registered on its low-level server instead, with typed handlers.
    """

    async def set_level(ctx: ServerRequestContext, params: SetLevelRequestParams) -> EmptyResult:
        # Every tool logs at info or above; no level hides one, nor needs to.
        return EmptyResult()

    # No resource of this server ever changes, so a subscription has nothing to deliver:
    # acknowledging it is the whole of the feature.
    async def subscribe(ctx: ServerRequestContext, params: SubscribeRequestParams) -> EmptyResult:
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext, params: UnsubscribeRequestParams
    ) -> EmptyResult:
        return EmptyResult()

    async def complete(ctx: ServerRequestContext, params: CompleteRequestParams) -> CompleteResult:
        """No suggestions: the suite checks the shape of the answer only."""
        return CompleteResult(completion=Completion(values=[], total=0, has_more=False))

    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("completion/complete", CompleteRequestParams, complete)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transport", default="stdio", choices=["stdio", "streamable-http"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    print(f"everything fixture starting (pid {os.getpid()}, {args.transport})", file=sys.stderr)
    sys.stderr.flush()
    server = build_server()
    if args.transport == "stdio":
        server.run("stdio")
        return
    asyncio.run(
        server.run_streamable_http_async(
            host=args.host,
            port=args.port,
            event_store=MemoryEventStore(),
            # Milliseconds: a client whose stream closed comes back this soon.
            retry_interval=100,
        )
    )


if __name__ == "__main__":
    main()
