"""The committed schemas work in the real yaml-language-server.

The issue asks that `schemas/` "work with yaml-language-server": an editor user
writes `# yaml-language-server: $schema=<schemas/manifest.json>` at the top of a
manifest and gets errors where mcpctl would refuse it, and none where it would
not. This drives the real server (the npm package `yaml-language-server`) over
its stdio LSP interface with a tiny client, opens documents headed by that
modeline and reads the diagnostics it publishes.

The server is found through `MCPCTL_YAML_LANGUAGE_SERVER` (its executable: a
path, or a command on PATH) or installed once with npm into the pytest cache. Node and npm are
required: without them the test fails rather than skips, as CI provides them.

A modeline applies to the YAML document it heads only, so every document of a
multi-document file needs its own; the tests add one after each `---`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
EXAMPLES = REPO / "examples"

PACKAGE = "yaml-language-server@1"
"""What npm installs when no executable is given: the latest 1.x release."""
ENV_VAR = "MCPCTL_YAML_LANGUAGE_SERVER"
INSTALL_TIMEOUT = 180.0
DEADLINE = 120.0
"""The longest wait (s) for an answer, or for the diagnostics of documents opened together:
a hang guard (node starting and reading the schemas is slow on a busy machine)."""

ERROR = 1
YAML_SETTINGS: dict[str, Any] = {"validate": True, "schemas": {}, "schemaStore": {"enable": False}}


def modeline(schema: str) -> str:
    return f"# yaml-language-server: $schema={(SCHEMAS / schema).as_uri()}"


def with_modeline(text: str, schema: str = "manifest.json") -> str:
    """`text` with the schema modeline heading each of its YAML documents."""
    line = modeline(schema)
    out = [line]
    for row in text.splitlines():
        out.append(row)
        if row == "---" or row.startswith("--- "):
            out.append(line)
    return "\n".join(out) + "\n"


# --- locating (or installing) the server -------------------------------------------


def _install(prefix: Path) -> Path:
    """yaml-language-server installed under `prefix`, by npm unless it already is."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail(
            "the yaml-language-server test needs Node.js and npm on PATH (to install and run "
            f"the npm package {PACKAGE}), or {ENV_VAR} set to a yaml-language-server executable",
            pytrace=False,
        )
    executable = prefix / "node_modules" / ".bin" / "yaml-language-server"
    if executable.is_file():
        return executable
    prefix.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), PACKAGE]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` took more than {INSTALL_TIMEOUT:.0f} s", pytrace=False)
    if done.returncode != 0 or not executable.is_file():
        pytest.fail(
            f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return executable


@pytest.fixture(scope="session")
def yaml_language_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The yaml-language-server executable: given by the environment, or installed once."""
    given = os.environ.get(ENV_VAR)
    if given:
        found = shutil.which(given)  # a path, or a command on PATH
        if found is None:
            pytest.fail(f"{ENV_VAR}={given} is not an executable", pytrace=False)
        return Path(found).resolve()
    cache: pytest.Cache | None = getattr(pytestconfig, "cache", None)
    if cache is not None:
        prefix = cache.mkdir("yaml-language-server")
    else:  # the cache plugin is off (-p no:cacheprovider): install for this session only
        prefix = tmp_path_factory.mktemp("yaml-language-server")
    return _install(prefix)


# --- a tiny LSP client --------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    line: int
    severity: int
    message: str


class LanguageServer:
    """A yaml-language-server process spoken to over stdio (JSON-RPC, Content-Length framed).

    A reader thread answers the server's own requests at once (so that it never
    waits on us), and hands responses and diagnostics to the test's thread.
    """

    def __init__(self, command: list[str], cwd: Path) -> None:
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._diagnostics: dict[str, queue.Queue[list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._errors = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._errors.start()

    # plumbing

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self._process.stdin
        assert stdin is not None
        try:
            with self._write_lock:
                stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                stdin.flush()
        except OSError as exc:  # it died: say so with what it said
            self._errors.join(timeout=2)
            what = message.get("method", "a response")
            raise AssertionError(self._failure(f"could not send {what} ({exc})")) from None

    def _read_message(self) -> dict[str, Any] | None:
        stdout = self._process.stdout
        assert stdout is not None
        length = None
        while True:
            header = stdout.readline()
            if not header:
                return None
            header = header.strip()
            if not header:
                break
            name, _, value = header.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("an LSP message without Content-Length")
        body = stdout.read(length)
        if len(body) < length:
            return None
        message: dict[str, Any] = json.loads(body)
        return message

    def _read_stdout(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                self._dispatch(message)
        except Exception as exc:  # a broken stream ends the session; the waits report it
            self._stderr.append(f"[client] reading the server's output failed: {exc!r}")
        finally:
            self._closed.set()

    def _read_stderr(self) -> None:
        stderr = self._process.stderr
        assert stderr is not None
        for raw in stderr:
            self._stderr.append(raw.decode(errors="replace").rstrip())

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:  # a response to one of our requests
            with self._lock:
                waiting = self._responses.get(message["id"])
            if waiting is not None:
                waiting.put(message)
        elif "id" in message:  # the server asks us something: answer at once
            self._send({"id": message["id"], "result": self._answer(method, message)})
        elif method == "textDocument/publishDiagnostics":
            params = message["params"]
            self._inbox(params["uri"]).put(params["diagnostics"])

    @staticmethod
    def _answer(method: str, message: dict[str, Any]) -> Any:
        if method == "workspace/configuration":
            items = message.get("params", {}).get("items", [])
            return [YAML_SETTINGS if item.get("section") == "yaml" else None for item in items]
        return None  # client/registerCapability, window/workDoneProgress/create, ...

    def _inbox(self, uri: str) -> queue.Queue[list[dict[str, Any]]]:
        with self._lock:
            return self._diagnostics.setdefault(uri, queue.Queue())

    def _failure(self, what: str) -> str:
        tail = "\n".join(self._stderr[-40:])
        return f"yaml-language-server: {what}\n--- its stderr ---\n{tail}"

    def _get(self, inbox: queue.Queue[Any], what: str, deadline: float) -> Any:
        """The next item of `inbox`, which must come by `deadline` (a `time.monotonic()`)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(self._failure(f"no {what} in time"))
            try:
                return inbox.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self._closed.is_set() and inbox.empty():
                    code = self._process.poll()
                    raise AssertionError(self._failure(f"exited ({code}) before {what}")) from None

    # the protocol

    def request(self, method: str, params: Any, timeout: float = DEADLINE) -> Any:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            inbox: queue.Queue[dict[str, Any]] = queue.Queue()
            self._responses[ident] = inbox
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        response: dict[str, Any] = self._get(inbox, f"answer to {method}", deadline)
        if "error" in response:
            raise AssertionError(self._failure(f"{method} failed: {response['error']}"))
        return response.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def start(self, root: Path) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "mcpctl-tests"},
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "workspace": {
                        "configuration": True,
                        "didChangeConfiguration": {"dynamicRegistration": True},
                        "workspaceFolders": True,
                    },
                    "textDocument": {
                        "synchronization": {"dynamicRegistration": True},
                        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
                    },
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": YAML_SETTINGS}})
        return result

    def diagnose(self, documents: dict[str, str]) -> dict[str, list[Diagnostic]]:
        """Open documents (URI -> text) together; the diagnostics published for each.

        The server validates a document some 200 ms after it changes, so opening
        them all before waiting on any keeps the waits from adding up.
        """
        for uri, text in documents.items():
            self.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
            )
        found = {}
        deadline = time.monotonic() + DEADLINE
        for uri in documents:
            inbox = self._inbox(uri)
            published: list[dict[str, Any]] = self._get(inbox, f"diagnostics of {uri}", deadline)
            found[uri] = [
                Diagnostic(d["range"]["start"]["line"], d.get("severity", ERROR), d["message"])
                for d in published
            ]
        for uri in documents:
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return found

    def stop(self) -> None:
        """Shut the server down politely; kill it if it does not go."""
        try:
            if self._process.poll() is None and not self._closed.is_set():
                with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                    self.request("shutdown", None, timeout=5)
                    self.notify("exit", None)
                    self._process.wait(timeout=5)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=DEADLINE)
            self._reader.join(timeout=5)  # both end at the end of their pipe
            self._errors.join(timeout=5)
            for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


class Documents:
    """Opens documents in the server, each under a fresh URI, and returns their diagnostics.

    The server turns every schema warning into an error (severity 1), so the
    tests look at errors only.
    """

    def __init__(self, client: LanguageServer, workspace: Path) -> None:
        self._client = client
        self._workspace = workspace
        self._count = 0

    def _uri(self) -> str:
        self._count += 1
        return (self._workspace / f"doc-{self._count:03d}.yaml").as_uri()

    def errors_of_each(self, texts: dict[str, str]) -> dict[str, list[Diagnostic]]:
        """Key -> text in, key -> errors out; the documents are checked together."""
        uris = {key: self._uri() for key in texts}
        found = self._client.diagnose({uris[key]: text for key, text in texts.items()})
        return {key: [d for d in found[uri] if d.severity == ERROR] for key, uri in uris.items()}

    def errors(self, text: str) -> list[Diagnostic]:
        return self.errors_of_each({"": text})[""]


@pytest.fixture(scope="module")
def server(
    yaml_language_server: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Documents]:
    """A running yaml-language-server, configured, for the tests of this module."""
    workspace = tmp_path_factory.mktemp("yaml-workspace")
    client = LanguageServer([str(yaml_language_server), "--stdio"], cwd=workspace)
    try:
        client.start(workspace)
        yield Documents(client, workspace)
    finally:
        client.stop()


def line_of(text: str, needle: str) -> int:
    """The 0-based line of the only line of `text` containing `needle`."""
    lines = [i for i, row in enumerate(text.splitlines()) if needle in row]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


# --- the tests ---------------------------------------------------------------------

EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.y*ml"))
EXAMPLE_IDS = [path.relative_to(EXAMPLES).as_posix() for path in EXAMPLE_FILES]
POISON = "mcpctlPoison: 1"

SERVER = """\
apiVersion: mcpctl/v1
kind: Server
metadata:
  name: time
spec:
  command:
  - mcp-server-time
"""


def poisoned(text: str) -> str:
    """`text` (with modelines) with an unknown top-level field in each of its documents."""
    line = modeline("manifest.json")
    return text.replace(line, f"{line}\n{POISON}")


@pytest.fixture(scope="module")
def example_errors(server: Documents) -> dict[str, list[Diagnostic]]:
    """The errors of every example, as it is and poisoned, keyed `<id>` and `<id>!`."""
    texts = {}
    for key, path in zip(EXAMPLE_IDS, EXAMPLE_FILES, strict=True):
        text = with_modeline(path.read_text(encoding="utf-8"))
        texts[key] = text
        texts[f"{key}!"] = poisoned(text)
    return server.errors_of_each(texts)


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLE_FILES) >= 5


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_an_example_has_no_errors(
    example_errors: dict[str, list[Diagnostic]], example: str
) -> None:
    assert example_errors[example] == []


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_the_schema_applies_to_every_document_of_an_example(
    example_errors: dict[str, list[Diagnostic]], example: str
) -> None:
    """The control of the test above: one unknown field per document, one error each."""
    text = poisoned(with_modeline((EXAMPLES / example).read_text(encoding="utf-8")))
    expected = [i for i, row in enumerate(text.splitlines()) if row == POISON]
    errors = example_errors[f"{example}!"]
    assert [d.line for d in errors] == expected, errors
    assert all("mcpctlPoison" in d.message for d in errors), errors


def test_a_valid_server_has_no_errors(server: Documents) -> None:
    assert server.errors(with_modeline(SERVER)) == []


def test_an_unknown_field_in_spec_is_an_error(server: Documents) -> None:
    text = with_modeline(SERVER + "  bogus: 1\n")
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "bogus")], errors
    assert "bogus" in errors[0].message


def test_a_bad_name_is_an_error(server: Documents) -> None:
    text = with_modeline(SERVER.replace("name: time", "name: Bad_Name"))
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "Bad_Name")], errors


def test_command_and_image_together_is_an_error(server: Documents) -> None:
    """Exactly one of template, image, command and externalUrl (a `oneOf`)."""
    text = with_modeline(SERVER + "  image: mcp/time:latest\n")
    errors = server.errors(text)
    assert errors, "a Server with both command and image has no error"
    spec = line_of(text, "spec:")
    assert all(d.line > spec for d in errors), errors  # reported inside spec


def test_an_unknown_kind_is_an_error(server: Documents) -> None:
    text = with_modeline(SERVER.replace("kind: Server", "kind: Serverr"))
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "Serverr")], errors


def test_an_unknown_field_in_a_list_item_is_an_error(server: Documents) -> None:
    item = "".join(f"  {row}\n" for row in SERVER.splitlines())
    text = with_modeline(f"apiVersion: mcpctl/v1\nkind: List\nitems:\n-{item[1:]}    bogus: 1\n")
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "bogus")], errors


def test_an_error_in_a_later_document_is_found(server: Documents) -> None:
    text = with_modeline(SERVER + "---\n" + SERVER.replace("name: time", "name: Bad_Name"))
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "Bad_Name")], errors


def test_a_kind_schema_accepts_its_kind(server: Documents) -> None:
    assert server.errors(with_modeline(SERVER, "server.json")) == []


def test_a_kind_schema_flags_an_unknown_field(server: Documents) -> None:
    text = with_modeline(SERVER + "  bogus: 1\n", "server.json")
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "bogus")], errors


def test_a_kind_schema_refuses_another_kind(server: Documents) -> None:
    text = with_modeline(SERVER.replace("kind: Server", "kind: Llm"), "server.json")
    errors = server.errors(text)
    assert [d.line for d in errors] == [line_of(text, "kind: Llm")], errors
