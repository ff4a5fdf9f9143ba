"""The editor setup works in a real editor's language server: yaml-language-server (the engine of VS Code's Red
Hat YAML extension), given the `yaml.schemas` that `easel init` writes and the schemas of `easel schema --out`,
reports a typo and a bad quantity, honours the modeline, and shows a field's description on hover.

The server is found through EASEL_YAML_LANGUAGE_SERVER, then where `.ci/run` installs it
(`${TMPDIR:-/tmp}/easel-yaml-language-server`), then on PATH; the test skips without Node or the server.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import easel

from compiler.commands import editor

TIMEOUT = 30  # seconds for the whole conversation


def _server() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: yaml-language-server needs it (`.ci/run` installs the server with npm)")
    installed = Path(tempfile.gettempdir()) / "easel-yaml-language-server/node_modules/.bin/yaml-language-server"
    candidates = [os.environ.get("EASEL_YAML_LANGUAGE_SERVER"), str(installed), shutil.which("yaml-language-server")]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        pytest.skip("yaml-language-server not installed: `npm install --prefix "
                    "${TMPDIR:-/tmp}/easel-yaml-language-server yaml-language-server` (as .ci/run does), or set "
                    "EASEL_YAML_LANGUAGE_SERVER")
    return [node, str(Path(found).resolve()), "--stdio"]


class Client:
    """A language-server client over stdio: JSON-RPC messages with Content-Length headers."""

    def __init__(self, command: list[str], settings: dict):
        self.settings = settings
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.last_id = 0
        self.deadline = time.monotonic() + TIMEOUT
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                if not line.strip():
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(stream.read(length)))

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict) -> dict:
        self.last_id += 1
        sent = self.last_id
        self._send({"id": sent, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == sent and "method" not in m)

    def wait_for(self, wanted) -> dict:
        """The next message wanted accepts, answering the server's own requests on the way."""
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"yaml-language-server did not answer within {TIMEOUT}s")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                pytest.fail("yaml-language-server exited")
            if "method" in message and "id" in message:  # workspace/configuration, registerCapability, ...
                result = None
                if message["method"] == "workspace/configuration":
                    result = [self.settings.get(item.get("section")) for item in message["params"]["items"]]
                self._send({"id": message["id"], "result": result})
            elif wanted(message):
                return message

    def diagnostics(self, path: Path) -> list[dict]:
        uri = path.as_uri()
        return self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri and m["params"]["diagnostics"])["params"]["diagnostics"]

    def open(self, path: Path) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "yaml",
                                                              "version": 1, "text": path.read_text()}})

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines()) if text in line)


def _repository(tmp_path: Path) -> Path:
    """A repository of `easel init`, its schemas written again by `easel schema --out` (as after an upgrade)."""
    assert easel("-C", str(tmp_path), "init", "repo").code == 0
    repo = tmp_path / "repo"
    assert easel("-C", str(repo), "schema", "--out", editor.SCHEMA_FOLDER).code == 0
    return repo


def _start(command: list[str], repo: Path) -> Client:
    """The server, initialized with the `yaml.schemas` that `easel init` wrote into .vscode/settings.json."""
    yaml_settings = {"schemas": json.loads((repo / ".vscode/settings.json").read_text())["yaml.schemas"],
                     "validate": True, "hover": True, "completion": True}
    client = Client(command, {"yaml": yaml_settings})
    client.request("initialize", {"processId": os.getpid(), "rootUri": repo.as_uri(),
                                  "workspaceFolders": [{"uri": repo.as_uri(), "name": "repo"}],
                                  "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown"]}},
                                                   "workspace": {"configuration": True}}})
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": {"yaml": yaml_settings}})
    return client


@pytest.mark.slow  # starts yaml-language-server (Node.js)
def test_yaml_language_server_reports_typos_and_bad_quantities_and_shows_descriptions(tmp_path):
    command = _server()
    repo = _repository(tmp_path)
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("  project: demo", "  projct: demo"))
    cluster = repo / "clusters/local.yaml"
    cluster.write_text(cluster.read_text().replace("memory: 32Gi", "memory: 32 gigs"))
    elsewhere = repo / "notes/request.yaml"  # outside the input folders: the modeline names the schema
    elsewhere.parent.mkdir()
    elsewhere.write_text("# yaml-language-server: $schema=../.easel/schemas/Workload.json\n"
                         "apiVersion: easel.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\n"
                         "spec: {project: p, enviroment: dev, profile: {name: hello}}\n")
    client = _start(command, repo)
    try:
        client.open(workload)
        found = client.diagnostics(workload)
        typo = _line_of(workload, "projct")
        assert any(d["range"]["start"]["line"] == typo and "projct" in d["message"] for d in found), found
        assert all(d["range"]["start"]["line"] in (typo, _line_of(workload, "spec:")) for d in found), found

        client.open(cluster)
        found = client.diagnostics(cluster)
        memory = _line_of(cluster, "32 gigs")
        assert [d["range"]["start"]["line"] for d in found] == [memory], found
        assert "pattern" in found[0]["message"]

        client.open(elsewhere)
        found = client.diagnostics(elsewhere)
        assert any("enviroment" in d["message"] for d in found), found

        line = _line_of(workload, "environment:")
        hover = client.request("textDocument/hover", {"textDocument": {"uri": workload.as_uri()},
                                                      "position": {"line": line, "character": 4}})
        description = editor.kind_schema("Workload")["properties"]["spec"]["properties"]["environment"]["description"]
        assert description in hover["result"]["contents"]["value"]
    finally:
        client.close()


SHM = """apiVersion: easel.dev/v1alpha1
kind: TraitDefinition
metadata: {name: shm}
spec:
  parameters:
    size: {type: string, format: quantity}
  template: 'patches: []'
"""


@pytest.mark.slow  # starts yaml-language-server (Node.js)
def test_yaml_language_server_checks_trait_properties_by_type_but_not_templates(tmp_path):
    """`memory: 32 gigs` in a `resources` trait is flagged in a Workload and in a profile, as is a bad property of
    the repository's own TraitDefinition (`easel schema --out` read it); a `{{ params.x }}` where an integer or a
    quantity goes is not (easel fills it in before it checks), nor is a trait type the schemas do not know."""
    command = _server()
    (tmp_path / "repo/profiles").mkdir(parents=True)
    (tmp_path / "repo/profiles/shm.yaml").write_text(SHM)
    repo = _repository(tmp_path)
    profile = repo / "profiles/hello/1.0.0.yaml"
    text = profile.read_text()
    assert 'replicas: "{{ params.replicas }}"' in text  # a template where the schema wants an integer
    profile.write_text(text.replace("properties: {cpu: 100m, memory: 64Mi}", "properties:\n"
                                    '            cpu: "{{ params.cpu }}"\n            memory: 32 gigs'))
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text() + (
        "  traits:\n    web:\n"
        "      - type: resources\n        properties:\n          memory: 32 gigs\n"
        '          cpu: "{{ params.cpu }}"\n'
        "      - type: shm\n        properties:\n          size: lots\n"
        "      - type: unknown-here\n        properties: {size: lots}\n"))
    client = _start(command, repo)
    try:
        client.open(profile)
        found = client.diagnostics(profile)
        assert [d["range"]["start"]["line"] for d in found] == [_line_of(profile, "32 gigs")], found
        assert "pattern" in found[0]["message"]

        client.open(workload)
        found = client.diagnostics(workload)
        lines = workload.read_text().splitlines()
        assert sorted(lines[d["range"]["start"]["line"]].strip() for d in found) == ["memory: 32 gigs",
                                                                                     "size: lots"], found
        assert all("pattern" in d["message"] for d in found), found
    finally:
        client.close()
