"""A small Language Server Protocol client over stdio, enough to drive yaml-language-server from tests."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any


class LanguageServer:
    """Starts a server process, answers its configuration requests, collects diagnostics and responses."""

    def __init__(self, command: list[str], settings: dict[str, Any]) -> None:
        self.settings = settings
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.responses: dict[int, Any] = {}
        self.diagnostics: dict[str, list[Any]] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode().partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            self._handle(json.loads(out.read(length)))

    def _handle(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            items = message["params"].get("items", []) if message["method"] == "workspace/configuration" else None
            result = [self._section(i.get("section")) for i in items] if items is not None else None
            self._write({"id": message["id"], "result": result})
            return
        with self.cond:
            if "id" in message:
                self.responses[message["id"]] = message
            elif message.get("method") == "textDocument/publishDiagnostics":
                self.diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
            self.cond.notify_all()

    def _section(self, section: str | None) -> Any:
        value: Any = self.settings
        for part in (section or "").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        self.next_id += 1
        rid = self.next_id
        self._write({"id": rid, "method": method, "params": params})
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.responses, timeout):
                raise TimeoutError(method)
            message = self.responses.pop(rid)
        if "error" in message:
            raise RuntimeError(message["error"])
        return message["result"]

    def notify(self, method: str, params: Any) -> None:
        self._write({"method": method, "params": params})

    def initialize(self, root: Path) -> None:
        capabilities = {
            "workspace": {"configuration": True},
            "textDocument": {
                "completion": {"completionItem": {"snippetSupport": True}},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {},
            },
        }
        self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": capabilities})
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def open(self, path: Path, timeout: float = 60) -> list[dict[str, Any]]:
        """Open a document and wait for its first diagnostics."""
        uri = path.resolve().as_uri()
        with self.cond:
            self.diagnostics.pop(uri, None)
        document = {"uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text(encoding="utf-8")}
        self.notify("textDocument/didOpen", {"textDocument": document})
        with self.cond:
            if not self.cond.wait_for(lambda: uri in self.diagnostics, timeout):
                raise TimeoutError(f"no diagnostics for {path}")
            return self.diagnostics[uri]

    def _at(self, path: Path, line: int, character: int) -> dict[str, Any]:
        return {"textDocument": {"uri": path.resolve().as_uri()}, "position": {"line": line, "character": character}}

    def completion_labels(self, path: Path, line: int, character: int) -> list[str]:
        result = self.request("textDocument/completion", self._at(path, line, character))
        items = result["items"] if isinstance(result, dict) else result or []
        return [item["label"] for item in items]

    def hover_text(self, path: Path, line: int, character: int) -> str:
        result = self.request("textDocument/hover", self._at(path, line, character))
        return str(result["contents"]["value"]) if result else ""

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
        except (TimeoutError, RuntimeError, BrokenPipeError):
            pass
        self.proc.kill()
        self.proc.wait()
