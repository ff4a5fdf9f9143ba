"""Print diagnostics: sorted (file, line, column, code), in text, json or GitHub Actions annotation format."""

from __future__ import annotations

import json
from collections.abc import Iterable

from compiler.diagnostics import Diagnostic, Location, positions


def _where(location: Location | None, texts: dict[str, str]) -> tuple[str, int | None, int | None]:
    if location is None or not location.file:
        return "", None, None
    found = positions.resolve(location, texts.get(location.file))
    return (location.file, *found) if found else (location.file, None, None)


def _prefix(file: str, line: int | None, column: int | None) -> str:
    if not file:
        return ""
    if line is None:
        return f"{file}: "
    return f"{file}:{line}:{column}: "


def sort(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> list[tuple[Diagnostic, tuple]]:
    placed = [(d, _where(d.location, texts)) for d in diagnostics]
    placed.sort(key=lambda item: (item[1][0], item[1][1] or 0, item[1][2] or 0, item[0].code, item[0].text))
    return placed


MAX_MESSAGE = 2_000  # characters of one message as printed
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f) if c != 0x0a}


def _safe(message: str, indent: str = "    ") -> str:
    """A message as one diagnostic's lines, whatever input it quotes: control characters (a terminal's escape
    sequences, carriage returns) shown escaped, and every further line indented, so that nothing quoted from
    input can pass for a line of its own (`error[E101]: ...`)."""
    if len(message) > MAX_MESSAGE:  # a value quoted in full could be megabytes
        message = f"{message[:MAX_MESSAGE]}… ({len(message):,} characters)"
    return message.translate(_CONTROL).replace("\n", "\n" + indent)


def text(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> str:
    lines = []
    for diagnostic, (file, line, column) in sort(diagnostics, texts):
        lines.append(f"{_prefix(file, line, column)}{diagnostic.severity.value}[{diagnostic.code}]: "
                     f"{_safe(diagnostic.text, '  ')}")
        for note in diagnostic.notes:
            nfile, nline, ncolumn = _where(note.location, texts)
            lines.append(f"  note: {_prefix(nfile, nline, ncolumn)}{_safe(note.message)}")
        if diagnostic.hint:
            lines.append(f"  hint: {_safe(diagnostic.hint)}")
    return "\n".join(lines)


def as_json(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> list[dict]:
    out = []
    for diagnostic, (file, line, column) in sort(diagnostics, texts):
        notes = []
        for note in diagnostic.notes:
            nfile, nline, ncolumn = _where(note.location, texts)
            notes.append({"message": note.message, "file": nfile or None, "line": nline, "column": ncolumn})
        out.append({"severity": diagnostic.severity.value, "code": diagnostic.code, "message": diagnostic.text,
                    "file": file or None, "line": line, "column": column, "hint": diagnostic.hint, "notes": notes})
    return out


def json_text(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> str:
    return json.dumps(as_json(diagnostics, texts), indent=2)


def _escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> str:
    lines = []
    for diagnostic, (file, line, column) in sort(diagnostics, texts):
        props = []
        if file:
            props.append(f"file={_escape(file, True)}")
            if line is not None:
                props.append(f"line={line}")
                props.append(f"col={column}")
        props.append(f"title={_escape('easel ' + diagnostic.code, True)}")
        body = diagnostic.text
        for note in diagnostic.notes:
            nfile, nline, ncolumn = _where(note.location, texts)
            body += f"\nnote: {_prefix(nfile, nline, ncolumn)}{note.message}"
        if diagnostic.hint:
            body += f"\nhint: {diagnostic.hint}"
        command = "error" if diagnostic.is_error else "warning"
        lines.append(f"::{command} {','.join(props)}::{_escape(body)}")
    return "\n".join(lines)


RENDERERS = {"text": text, "json": json_text, "github": github}


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SETTINGS_FILE = "easel.yaml"  # where a finding about the repository as a whole is placed (code scanning needs a file)


def _sarif_location(file: str, line: int | None, column: int | None) -> dict:
    region = {"startLine": line or 1, **({"startColumn": column} if column else {})}
    return {"physicalLocation": {"artifactLocation": {"uri": file or SETTINGS_FILE, "uriBaseId": "%SRCROOT%"},
                                 "region": region}}


def sarif(diagnostics: Iterable[Diagnostic], texts: dict[str, str]) -> str:
    """SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it: one run of the tool `easel`, a rule per
    diagnostic code that occurs (its title, and its hint as help), a result per diagnostic with its file, line
    and column relative to the repository, and its notes as related locations."""
    from compiler import __version__
    from compiler.diagnostics.codes import CODES

    placed = sort(diagnostics, texts)
    codes = sorted({d.code for d, _ in placed})
    rules = [{"id": code, "name": code, "shortDescription": {"text": CODES[code].title if code in CODES else code},
              **({"help": {"text": CODES[code].hint}} if code in CODES and CODES[code].hint else {})}
             for code in codes]
    results = []
    for diagnostic, (file, line, column) in placed:
        message = diagnostic.text + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
        result = {"ruleId": diagnostic.code, "ruleIndex": codes.index(diagnostic.code),
                  "level": "error" if diagnostic.is_error else "warning", "message": {"text": message},
                  "locations": [_sarif_location(file, line, column)]}
        related = []
        for number, note in enumerate(diagnostic.notes):
            nfile, nline, ncolumn = _where(note.location, texts)
            if nfile:
                related.append({"id": number, "message": {"text": note.message},
                                **_sarif_location(nfile, nline, ncolumn)})
        if related:
            result["relatedLocations"] = related
        results.append(result)
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "easel", "version": __version__, "semanticVersion": __version__,
                            "informationUri": "https://easel.dev", "rules": rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the config repository's root"}}},
        "columnKind": "unicodeCodePoints",
        "results": results}]}, indent=2)
