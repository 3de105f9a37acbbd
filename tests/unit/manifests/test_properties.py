"""Properties: valid objects survive the canonical round trip; no input makes loading crash.

The strategies build valid specs of most kinds from the schema's own rules:
names from the DNS-label rule, labels, free text that looks like numbers,
booleans or null (or holds newlines, quotes, leading spaces and non-ASCII),
floats and nested JSON for health-check arguments and Llm extras.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpctl.errors import ManifestIssue
from mcpctl.manifests import LoadResult, diff_sets, dump_object, load_bytes, load_text
from mcpctl.schemas import BY_KIND, KINDS, Resource, Secret

Data = dict[str, Any]

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=200, deadline=None)

# --- building blocks ------------------------------------------------------------------

LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ALNUM = LOWER + LOWER.upper() + DIGITS


def joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


def chars(alphabet: str, min_size: int = 0, max_size: int = 10) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def edged(edge: str, inner: str, max_inner: int) -> st.SearchStrategy[str]:
    """One `edge` character, or `edge inner* edge`: the shape of DNS labels and label names."""
    one = st.sampled_from(edge)
    return one | joined(one, chars(inner, max_size=max_inner), one)


#: DNS labels (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`), short ones and the longest (63).
names = edged(LOWER + DIGITS, LOWER + DIGITS + "-", 20)
long_names = joined(
    st.sampled_from(LOWER + DIGITS), chars(LOWER + DIGITS + "-", 61, 61), st.sampled_from(DIGITS)
)
resource_names = names | long_names

_label_name = edged(ALNUM, ALNUM + "-_.", 12)
_label_prefix = joined(
    edged(LOWER + DIGITS, LOWER + DIGITS + "-", 8),
    st.sampled_from(["", ".io", ".example.com"]),
    st.just("/"),
)
label_keys = _label_name | joined(_label_prefix, _label_name)
label_values = st.just("") | _label_name

#: Texts that a careless emitter would turn into something else.
TRICKY = [
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "False",
    "null",
    "~",
    "",
    " ",
    "0",
    "017",
    "0o17",
    "0x1F",
    "1_000",
    "1e3",
    "-.5",
    ".inf",
    ".NaN",
    "12:30",
    "2026-11-25",
    "<<",
    "=",
    "- item",
    "key: value",
    "# not a comment",
    "&anchor",
    "*alias",
    "!tag",
    "%directive",
    "@at",
    "`tick",
    "'single'",
    '"double"',
    "it's",
    '{"a": 1}',
    "[1, 2]",
    "  leading spaces",
    "trailing spaces  ",
    "line one\nline two",
    "ends with newline\n",
    "\n",
    "\nstarts with newline",
    "two trailing\n\n",
    "  indented\n  block\n",
    "tab\tinside",
    "\ttab first\n",
    "crlf\r\nline",
    "nel\x85line",
    "ls\u2028ps\u2029",
    "bom\ufeffinside",
    "zoë 日本 🚀",
    "ctrl\x01\x1f\x7f",
    "nul escape \x00 inside",
    "---",
    "...",
    "a\n---\nb",
]


def texts(max_size: int = 60, min_size: int = 0) -> st.SearchStrategy[str]:
    tricky = st.sampled_from([t for t in TRICKY if len(t) >= min_size])
    return st.one_of(tricky, st.text(min_size=min_size, max_size=max_size))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # the rule: a signed 64-bit integer
    st.floats(allow_nan=False, allow_infinity=False),
    texts(20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(texts(10), children, max_size=4),
    ),
    max_leaves=12,
)

urls = joined(
    st.sampled_from(["http://", "https://"]),
    chars(LOWER + DIGITS, 1, 10),
    st.sampled_from(["", ".example.com", ".io", ":8200", ".local:443"]),
    st.lists(chars(ALNUM + "._~%-", 1, 8), max_size=3).map(lambda ps: "".join("/" + p for p in ps)),
)
env_names = joined(st.sampled_from(ALNUM[:52] + "_"), chars(ALNUM + "_", max_size=15))
header_names = chars(ALNUM + "-", 1, 20)
secret_keys = chars(ALNUM + "-._", 1, 20)
sealed_values = chars(ALNUM + "._:+/=-", 1, 40)
images = joined(
    st.sampled_from(LOWER + DIGITS),
    chars(LOWER + DIGITS + "._/-", max_size=20),
    st.sampled_from(["", ":latest", ":1.2.3", "@sha256:abc"]),
)
tags = joined(st.sampled_from(ALNUM), chars(ALNUM + "_.:/-", max_size=20))
emails = joined(
    chars(LOWER + DIGITS + "._+-", 1, 10),
    st.just("@"),
    chars(LOWER + DIGITS + "-", 1, 10),
    st.sampled_from([".io", ".com", ".example"]),
)
tool_names = chars(ALNUM + "_.-", 1, 20)
kv_paths = st.lists(chars(ALNUM + "_.-", 1, 10), min_size=1, max_size=3).map("/".join)
token_hashes = chars("0123456789abcdef", 64, 64).map(lambda h: "sha256:" + h)
uris = joined(
    chars(LOWER, 1, 8),
    st.just("://"),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
)


@st.composite
def timestamps(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 12, 30)))
    offset = draw(st.integers(min_value=-14 * 60, max_value=14 * 60))
    return moment.replace(tzinfo=timezone(timedelta(minutes=offset)))


def secret_refs() -> st.SearchStrategy[Data]:
    return st.fixed_dictionaries({"name": names, "key": secret_keys})


def optional(data: Data, key: str, value: Any) -> None:
    if value is not None:
        data[key] = value


@st.composite
def metadata(draw: st.DrawFn, project: bool = False) -> Data:
    data: Data = {"name": draw(resource_names)}
    if project:
        data["project"] = draw(names)
    labels = draw(st.dictionaries(label_keys, label_values, max_size=4))
    if labels:
        data["labels"] = labels
    annotations = draw(st.dictionaries(label_keys, texts(), max_size=3))
    if annotations:
        data["annotations"] = annotations
    return data


@st.composite
def env_lists(draw: st.DrawFn, *, max_size: int = 4) -> list[Data]:
    entries: list[Data] = []
    for name in draw(st.lists(env_names, max_size=max_size, unique=True)):
        if draw(st.booleans()):
            entries.append({"name": name, "value": draw(texts())})
        else:
            entries.append({"name": name, "valueFrom": {"secretRef": draw(secret_refs())}})
    return entries


@st.composite
def header_lists(draw: st.DrawFn) -> list[Data]:
    entries: list[Data] = []
    names_ = draw(st.lists(header_names, max_size=3, unique_by=str.lower))
    for name in names_:
        if draw(st.booleans()):
            entries.append({"name": name, "value": draw(texts())})
        else:
            entries.append({"name": name, "valueFrom": {"secretRef": draw(secret_refs())}})
    return entries


@st.composite
def health_checks(draw: st.DrawFn) -> Data:
    data: Data = {}
    tool = draw(st.none() | tool_names)
    if tool is not None:
        data["tool"] = tool
        arguments = draw(st.dictionaries(texts(10), json_values, max_size=4))
        if arguments:
            data["arguments"] = arguments
    interval = draw(st.none() | st.integers(min_value=1, max_value=86400))
    effective_interval = 30 if interval is None else interval
    timeout = draw(st.none() | st.integers(min_value=1, max_value=min(3600, effective_interval)))
    if timeout is None and effective_interval < 10:
        timeout = effective_interval
    optional(data, "intervalSeconds", interval)
    optional(data, "timeoutSeconds", timeout)
    optional(data, "failureThreshold", draw(st.none() | st.integers(min_value=1, max_value=100)))
    return data


@st.composite
def sources(draw: st.DrawFn, *, template: bool) -> Data:
    """A valid source and transport for a Server (template allowed) or a Template."""
    choices = ["image", "command", "externalUrl"] + (["template"] if template else [])
    source = draw(st.sampled_from(choices))
    spec: Data = {}
    if source == "template":
        spec["template"] = draw(names)
        spec["env"] = draw(env_lists())
        return spec
    if source == "externalUrl":
        spec["externalUrl"] = draw(urls)
        spec["transport"] = draw(st.sampled_from(["sse", "streamable-http"]))
        spec["headers"] = draw(header_lists())
        return spec
    spec[source] = (
        draw(images) if source == "image" else draw(st.lists(texts(), min_size=1, max_size=4))
    )
    transport = draw(st.sampled_from([None, "stdio", "sse", "streamable-http"]))
    if transport is not None:
        spec["transport"] = transport
    if transport in ("sse", "streamable-http"):
        spec["containerPort"] = draw(st.integers(min_value=1, max_value=65535))
        spec["headers"] = draw(header_lists())
    spec["env"] = draw(env_lists())
    return spec


def envelope(kind: str, meta: Data, spec: Data) -> Data:
    return {"apiVersion": "mcpctl/v1", "kind": kind, "metadata": meta, "spec": spec}


# --- kinds ----------------------------------------------------------------------------


@st.composite
def servers(draw: st.DrawFn) -> Data:
    spec = draw(sources(template=True))
    if "externalUrl" not in spec:
        optional(spec, "replicas", draw(st.none() | st.integers(min_value=0, max_value=100)))
    if draw(st.booleans()):
        spec["healthCheck"] = draw(health_checks())
    return envelope("Server", draw(metadata()), spec)


@st.composite
def templates(draw: st.DrawFn) -> Data:
    spec = draw(sources(template=False))
    spec["description"] = draw(texts())
    if "externalUrl" not in spec:
        fixed = {e["name"] for e in spec.get("env", [])}
        parameters = []
        for name in draw(
            st.lists(env_names.filter(lambda n: n not in fixed), max_size=3, unique=True)
        ):
            type_ = draw(st.sampled_from(list(PARAMETER_VALUES)))
            secret = draw(st.booleans())
            parameter: Data = {
                "name": name,
                "type": type_,
                "required": draw(st.booleans()),
                "secret": secret,
            }
            optional(parameter, "description", draw(st.none() | texts()))
            if not secret:  # a secret parameter has neither a default nor an enum
                values = PARAMETER_VALUES[type_]
                enum = draw(st.none() | st.lists(values, min_size=1, max_size=4, unique=True))
                optional(parameter, "enum", enum)
                choices = st.sampled_from(enum) if enum else values
                optional(parameter, "default", draw(st.none() | choices))
            parameters.append(parameter)
        spec["parameters"] = parameters
    return envelope("Template", draw(metadata()), spec)


#: Literal values of each parameter type (what a default or an enum value may be).
PARAMETER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "string": texts(),
    "integer": st.integers(-(10**12), 10**12).map(str),
    "number": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "boolean": st.sampled_from(["true", "false"]),
    "url": urls,
}


@st.composite
def prompts(draw: st.DrawFn) -> Data:
    spec: Data = {"content": draw(texts(200, min_size=1))}
    optional(spec, "priority", draw(st.none() | st.integers(min_value=1, max_value=10)))
    spec["tags"] = draw(st.lists(tags, max_size=4))
    spec["summary"] = draw(texts())
    spec["chapters"] = draw(
        st.lists(
            st.fixed_dictionaries(
                {"title": texts(30, min_size=1), "content": texts(100)},
                optional={"summary": texts()},
            ),
            max_size=3,
        )
    )
    if draw(st.booleans()):
        spec["linkTarget"] = f"{draw(names)}/{draw(names)}:{draw(uris)}"
    return envelope("Prompt", draw(metadata(project=True)), spec)


@st.composite
def projects(draw: st.DrawFn) -> Data:
    spec: Data = {
        "description": draw(texts()),
        "servers": draw(st.lists(names, max_size=4, unique=True)),
        "gated": draw(st.booleans()),
        "instructions": draw(texts(300)),
    }
    if draw(st.booleans()):
        llm: Data = {}
        optional(llm, "fast", draw(st.none() | names))
        optional(llm, "heavy", draw(st.none() | names))
        spec["llm"] = llm
    return envelope("Project", draw(metadata()), spec)


@st.composite
def llms(draw: st.DrawFn) -> Data:
    type_ = draw(
        st.sampled_from(["anthropic", "openai", "deepseek", "vllm", "ollama", "gemini-cli"])
    )
    spec: Data = {"type": type_, "model": draw(texts(30, min_size=1))}
    if type_ in ("anthropic", "openai", "deepseek") or draw(st.booleans()):
        spec["apiKeyRef"] = draw(secret_refs())
    if type_ == "vllm" or draw(st.booleans()):
        spec["url"] = draw(urls)
    spec["tier"] = draw(st.sampled_from(["fast", "heavy"]))
    spec["description"] = draw(texts())
    spec["extra"] = draw(st.dictionaries(st.text(min_size=1, max_size=20), json_values, max_size=4))
    return envelope("Llm", draw(metadata()), spec)


@st.composite
def secrets(draw: st.DrawFn) -> Data:
    data = draw(st.dictionaries(secret_keys, st.none() | texts(), max_size=4))
    sealed = draw(st.dictionaries(secret_keys, sealed_values, max_size=3))
    spec: Data = {"data": data, "sealedData": {k: v for k, v in sealed.items() if k not in data}}
    optional(spec, "backend", draw(st.none() | names))
    return envelope("Secret", draw(metadata()), spec)


@st.composite
def secret_backends(draw: st.DrawFn) -> Data:
    spec: Data = {"type": draw(st.sampled_from(["plaintext", "openbao"]))}
    optional(spec, "default", draw(st.none() | st.booleans()))
    if spec["type"] == "openbao":
        spec["url"] = draw(urls)
        spec["tokenSecretRef"] = draw(secret_refs())
        optional(spec, "mount", draw(st.none() | kv_paths))
        optional(spec, "pathPrefix", draw(st.none() | kv_paths))
        optional(spec, "namespace", draw(st.none() | texts(20, min_size=1)))
    return envelope("SecretBackend", draw(metadata()), spec)


@st.composite
def users(draw: st.DrawFn) -> Data:
    spec = {"email": draw(emails), "displayName": draw(texts())}
    return envelope("User", draw(metadata()), spec)


@st.composite
def groups(draw: st.DrawFn) -> Data:
    spec = {"description": draw(texts()), "members": draw(st.lists(names, max_size=4, unique=True))}
    return envelope("Group", draw(metadata()), spec)


@st.composite
def rbacs(draw: st.DrawFn) -> Data:
    subjects = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["User", "Group", "ServiceAccount", "McpToken"]),
                    "name": names,
                }
            ),
            min_size=1,
            max_size=3,
        )
    )
    kind_binding = st.fixed_dictionaries(
        {
            "role": st.sampled_from(["view", "create", "edit", "delete"]),
            "resource": st.sampled_from([m.PLURAL for m in KINDS]),
        },
        optional={"name": names},
    )
    any_binding = st.fixed_dictionaries(
        {"role": st.sampled_from(["view", "edit"]), "resource": st.just("*")}
    )
    run_binding = st.fixed_dictionaries(
        {"role": st.just("run"), "action": st.sampled_from(["*", "backup", "restore", "logs"])}
    )
    bindings = draw(st.lists(kind_binding | any_binding | run_binding, min_size=1, max_size=3))
    return envelope("Rbac", draw(metadata()), {"subjects": subjects, "bindings": bindings})


@st.composite
def mcp_tokens(draw: st.DrawFn) -> Data:
    spec: Data = {
        "description": draw(texts()),
        "rbacMode": draw(st.sampled_from(["bindings", "clone"])),
        "revoked": draw(st.booleans()),
    }
    optional(spec, "project", draw(st.none() | names))
    expires = draw(st.none() | timestamps())
    optional(spec, "expiresAt", None if expires is None else expires.isoformat())
    optional(spec, "tokenHash", draw(st.none() | token_hashes))
    return envelope("McpToken", draw(metadata()), spec)


@st.composite
def service_accounts(draw: st.DrawFn) -> Data:
    return envelope("ServiceAccount", draw(metadata()), {"description": draw(texts())})


object_data = st.one_of(
    servers(),
    templates(),
    prompts(),
    projects(),
    llms(),
    secrets(),
    secret_backends(),
    users(),
    groups(),
    rbacs(),
    mcp_tokens(),
    service_accounts(),
)


def build(data: Data) -> Resource:
    return BY_KIND[data["kind"]].model_validate(data)


@st.composite
def with_server_fields(draw: st.DrawFn) -> Data:
    data = dict(draw(object_data))
    meta = dict(data["metadata"])
    meta["resourceVersion"] = draw(texts(10))
    meta["generation"] = draw(st.integers(min_value=0, max_value=2**31))
    meta["createdAt"] = draw(timestamps()).isoformat()
    meta["updatedAt"] = draw(timestamps()).isoformat()
    meta["createdBy"] = draw(texts(10))
    data["metadata"] = meta
    data["status"] = draw(st.dictionaries(texts(10), json_values, max_size=3))
    return data


#: Characters JSON may hold raw but YAML may not (or reads as line breaks).
_RAW_IN_JSON_ONLY = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")


def to_json(data: Data) -> str:
    """JSON text as the CLI writes it (non-ASCII raw), escaping what YAML cannot hold raw.

    Characters outside the Basic Multilingual Plane stay raw: libyaml refuses the
    surrogate-pair escapes (`\\ud83d\\ude80`) that `ensure_ascii` would write (see
    test_loading's test_json_surrogate_pair_escape_is_read_as_one_character).
    """
    text = json.dumps(data, ensure_ascii=False)
    return _RAW_IN_JSON_ONLY.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def secret_mode(resource: Resource) -> Any:
    return "plain" if isinstance(resource, Secret) else "mask"


# --- (1) the canonical round trip -----------------------------------------------------


@PROPERTY
@given(data=object_data)
def test_valid_objects_survive_the_canonical_round_trip(data: Data) -> None:
    resource = build(data)
    mode = secret_mode(resource)
    text = dump_object(resource, secrets=mode)
    result = load_text(text, "round-trip.yaml")
    assert result.issues == []
    [manifest] = result.manifests
    assert dump_object(manifest.resource, secrets=mode) == text
    assert manifest.resource == resource


@PROPERTY
@given(data=with_server_fields())
def test_server_fields_and_status_survive_the_round_trip_when_asked(data: Data) -> None:
    resource = build(data)
    options: dict[str, Any] = {
        "secrets": secret_mode(resource),
        "server_fields": True,
        "status": True,
    }
    text = dump_object(resource, **options)
    result = load_text(text)
    assert result.issues == []
    [manifest] = result.manifests
    assert dump_object(manifest.resource, **options) == text
    assert manifest.resource == resource


@PROPERTY
@given(data=object_data)
def test_json_input_and_yaml_input_load_the_same_object(data: Data) -> None:
    resource = build(data)
    from_json = load_text(to_json(data), "x.json")
    assert from_json.issues == []
    assert from_json.manifests[0].resource == resource


@PROPERTY
@given(timestamp=timestamps())
def test_timestamps_are_written_in_utc(timestamp: datetime) -> None:
    resource = build(envelope("McpToken", {"name": "t"}, {"expiresAt": timestamp.isoformat()}))
    text = dump_object(resource)
    written = text.split("expiresAt: ")[1].split("\n")[0].strip("'")
    assert written.endswith("Z")
    parsed = datetime.fromisoformat(written.replace("Z", "+00:00"))
    assert parsed == timestamp
    assert parsed.utcoffset() == UTC.utcoffset(None)


# --- (2) no input crashes loading -----------------------------------------------------


def assert_only_load_result(result: object) -> None:
    assert isinstance(result, LoadResult)
    assert all(isinstance(issue, ManifestIssue) for issue in result.issues)
    for issue in result.issues:
        assert isinstance(issue.code, str)
        assert issue.code


@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_produce_a_load_result(data: bytes) -> None:
    assert_only_load_result(load_bytes(data, "fuzz.yaml"))


@FUZZ
@given(text=st.text(max_size=2000))
def test_arbitrary_text_only_ever_produces_a_load_result(text: str) -> None:
    assert_only_load_result(load_text(text, "fuzz.yaml"))


@FUZZ
@given(text=st.text(st.characters(categories=("Cs", "Cc", "Zs", "Lu", "Nd")), max_size=200))
def test_text_with_lone_surrogates_only_ever_produces_a_load_result(text: str) -> None:
    assert_only_load_result(load_text(text, "fuzz.yaml"))


YAML_ALPHABET = "ab01 :-?[]{},&*!|>'\"%@`#\n\t.~<=+"


@FUZZ
@given(text=st.text(alphabet=YAML_ALPHABET, max_size=300))
def test_yaml_shaped_noise_only_ever_produces_a_load_result(text: str) -> None:
    assert_only_load_result(load_text(text, "fuzz.yaml"))


@FUZZ
@given(
    kind=st.sampled_from([*BY_KIND, "List", "Nope"]),
    metadata_=json_values,
    spec=json_values,
    extra=st.dictionaries(texts(10), json_values, max_size=2),
)
def test_arbitrary_documents_of_known_kinds_only_ever_produce_a_load_result(
    kind: str, metadata_: Any, spec: Any, extra: Data
) -> None:
    document = {
        **extra,
        "apiVersion": "mcpctl/v1",
        "kind": kind,
        "metadata": metadata_,
        "spec": spec,
    }
    if kind == "List":
        document["items"] = [spec, metadata_]
    assert_only_load_result(load_text(json.dumps(document), "fuzz.json"))


@FUZZ
@given(data=object_data, cut=st.integers(min_value=0, max_value=10_000), junk=st.text(max_size=5))
def test_damaged_valid_manifests_only_ever_produce_a_load_result(
    data: Data, cut: int, junk: str
) -> None:
    text = dump_object(build(data), secrets="plain")
    cut %= len(text) + 1
    assert_only_load_result(load_text(text[:cut] + junk + text[cut:], "damaged.yaml"))


# --- (3) secret values never leave the diff -------------------------------------------

MARK = "SeCrEt"
secret_values = st.builds(lambda t: f"{MARK}{t}", st.text(max_size=10))


@st.composite
def secrets_with_marked_values(draw: st.DrawFn) -> Resource:
    keys = draw(st.lists(st.sampled_from("abcdef"), unique=True, max_size=6))
    data: dict[str, str | None] = {}
    sealed: dict[str, str] = {}
    for key in keys:
        form = draw(st.sampled_from(["plain", "keep", "sealed"]))
        if form == "plain":
            data[key] = draw(secret_values)
        elif form == "keep":
            data[key] = None
        else:
            sealed[key] = MARK + draw(chars(ALNUM, max_size=10))
    return build(envelope("Secret", {"name": "creds"}, {"data": data, "sealedData": sealed}))


@PROPERTY
@given(old=secrets_with_marked_values(), new=secrets_with_marked_values())
def test_secret_values_never_appear_in_a_diff(old: Resource, new: Resource) -> None:
    for changes in (diff_sets([old], [new]), diff_sets([], [new]), diff_sets([old], [])):
        assert MARK not in repr(changes)
        for change in changes.changes:
            for field in change.fields:
                assert MARK not in repr(field.old) + repr(field.new) + str(field)
