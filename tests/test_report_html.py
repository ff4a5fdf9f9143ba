"""`easel report --out DIR`: the fleet report as one self-contained HTML page. Its numbers are those `easel
status`, `easel explain` and `easel rollout status` give; it refers to nothing outside itself; and headless
Chromium draws it without a console message."""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from builders import copy_example
from conftest import easel, easel_process, tree

# Debian's Chromium (.ci/run installs it), or another Chromium or Chrome: EASEL_CHROMIUM, then on PATH
CHROMIUM = Path(os.environ.get("EASEL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
                or shutil.which("google-chrome") or "/usr/bin/chromium")
ALLOCATED_COLOUR = bytes((0x4F, 0x46, 0xE5))  # --used in the page's light scheme: the bars' allocated part


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """A copy of the example with its report written, once for the module."""
    copy = copy_example(tmp_path_factory.mktemp("report") / "example")
    before = tree(copy)
    run = easel("-C", str(copy), "report", "--out", "fleet-report")
    assert run.code == 0, run.text
    assert run.out.strip() == f"wrote {copy / 'fleet-report' / 'index.html'}"
    after = {path: data for path, data in tree(copy).items() if not path.startswith(".easel-cache/")}
    assert set(after) - set(before) == {"fleet-report/index.html"}  # only the page, only inside --out
    assert {path: after[path] for path in before} == before
    return copy


def _json(copy: Path, *args: str):
    run = easel("-C", str(copy), *args, "--format", "json")
    assert run.code == 0, run.text
    return json.loads(run.out)


# --- a small tree of the page, to read it as a reader sees it -------------------------------------------------

class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else f" {c.text()} " for c in self.children).split())

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in n.classes)]

    def by_id(self, wanted: str) -> Node:
        return next(n for n in self.walk() if n.attrs.get("id") == wanted)


class _Builder(HTMLParser):
    VOID = {"meta", "br", "img", "link", "input", "hr", "col", "source"}

    def __init__(self):
        super().__init__()
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in self.VOID:
            self.open.append(node)

    def handle_endtag(self, tag):
        while len(self.open) > 1 and self.open.pop().tag != tag:
            pass

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    return builder.root


def in_order(text: str, fragments: list[str]) -> None:
    """Each fragment appears in text, after the one before it."""
    at = 0
    for fragment in fragments:
        found = text.find(fragment, at)
        assert found >= 0, f"{fragment!r} not found after {text[max(0, at - 80):at]!r}"
        at = found + len(fragment)


@pytest.fixture(scope="module")
def page(example) -> Node:
    return parse((example / "fleet-report" / "index.html").read_text(encoding="utf-8"))


# --- what the page says ----------------------------------------------------------------------------------------

def test_gpus_and_quotas_are_those_easel_status_gives(example, page):
    status = _json(example, "status")
    expected = []
    for cluster in status["clusters"]:
        expected.append(cluster["cluster"])
        for gpu in cluster["gpus"]:
            expected += [gpu["product"], *([gpu["sharing"]] if "sharing" in gpu else []),
                         f"{gpu['allocated']:,} allocated · {gpu['free']:,} free · {gpu['total']:,} total"]
        if not cluster["gpus"]:
            expected.append("no GPUs")
    in_order(page.by_id("gpus").text(), expected)
    # the bars: one cell per device, the allocated ones filled
    drawn = [(sum(1 for i in bar.all("i") if "on" in i.classes), len(bar.all("i")))
             for bar in page.by_id("gpus").all("div", "cells")]
    assert drawn == [(gpu["allocated"], gpu["total"]) for cluster in status["clusters"] for gpu in cluster["gpus"]]

    expected = []
    for project in status["projects"]:
        expected += [project["project"], f"{project['used']:,} / {project['quota']:,}"]
        for product in project["byProduct"]:
            expected += [product["product"], f"{product['used']:,} / {product['quota']:,}"]
    in_order(page.by_id("quotas").text(), expected)

    whole = [gpu for cluster in status["clusters"] for gpu in cluster["gpus"] if "sharing" not in gpu]
    tiles = page.all("div", "tiles")[0].text()
    assert f"{sum(g['allocated'] for g in whole):,} / {sum(g['total'] for g in whole):,} whole GPUs allocated" in tiles


def test_the_placement_matrix_shows_where_each_workload_runs_and_why_not_elsewhere(example, page):
    status = _json(example, "status")
    matrix = page.all("table", "matrix")[0]
    clusters = [th.text() for th in matrix.all("th", "cluster")]
    assert clusters == [cluster["cluster"] for cluster in status["clusters"]]
    cells = {}
    for row in matrix.all("tbody")[0].all("tr"):
        workload = row.all("td", "workload")[0].children[0].strip()
        for cluster, cell in zip(clusters, row.all("td", "cell"), strict=True):
            cells[(workload, cluster)] = cell
    chosen = {key for key, cell in cells.items() if "chosen" in cell.classes}
    assert chosen == {(w, c["cluster"]) for c in status["clusters"] for w in c["workloads"]}

    workload = sorted({w for w, _ in cells})[0]
    explained = _json(example, "explain", workload)["placement"]["clusters"]
    for entry in explained:  # the reason on hover is explain's, word for word
        why = cells[(workload, entry["cluster"])].attrs["data-why"]
        assert why.startswith("chosen") if entry["verdict"] == "chosen" else why == entry["reason"]
    assert any(entry["verdict"] != "chosen" for entry in explained)


def test_past_thirty_clusters_each_workloads_clusters_are_counted_by_reason(tmp_path):
    copy = copy_example(tmp_path / "example")
    cluster = (copy / "clusters" / "dev-east-1.yaml").read_text()
    for index in range(25):  # 31 clusters: one column each would not fit a screen
        (copy / "clusters" / f"dev-east-1-{index}.yaml").write_text(cluster.replace("dev-east-1", f"dev-east-1-{index}"))
    run = easel("-C", str(copy), "report", "--out", "report")
    assert run.code == 0, run.text
    page = parse((copy / "report" / "index.html").read_text(encoding="utf-8"))
    status = _json(copy, "status")
    assert len(status["clusters"]) == 31
    table = page.all("table", "tally")[0]
    assert not page.all("td", "passed")  # no matrix cells
    for row in table.all("tbody")[0].all("tr"):
        workload = row.all("td", "workload")[0].children[0].strip()
        chips = [(int(chip.children[0].split()[-1].replace(",", "")), chip.attrs["data-why"])
                 for chip in row.all("span", "key")]
        chosen = sum(1 for cluster in status["clusters"] if workload in cluster["workloads"])
        assert row.all("td", "chosen")[0].text() == f"✓ {chosen:,}"
        assert sum(count for count, _ in chips) == 31 - chosen
        explained = _json(copy, "explain", workload)["placement"]["clusters"]
        reasons = Counter(entry["reason"] for entry in explained if entry["verdict"] != "chosen")
        commonest, count = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[0]
        assert any(why.startswith(f"{count:,} × {commonest}") for _, why in chips), (commonest, chips)


def test_rollouts_and_stacks_are_shown(example, page):
    rollouts = _json(example, "rollout", "status")["rollouts"]
    assert rollouts, "the example has a rollout in progress"
    expected = []
    for rollout in rollouts:
        expected += [rollout.get("workload") or rollout["stack"], f"{rollout['from']} → {rollout['to']}",
                     f"wave {rollout['wave']} of {len(rollout['waves'])}"]
        for wave in rollout["waves"]:
            expected += [wave["version"], wave["name"], ", ".join(wave["clusters"])]
    in_order(page.by_id("rollouts").text(), expected)
    reached = [sum(1 for wave in waves.all("div", "wave") if "done" in wave.classes)
               for waves in page.by_id("rollouts").all("div", "waves")]
    assert reached == [rollout["wave"] for rollout in rollouts]

    deployed = yaml.safe_load((example / "easel.lock").read_text())["infrastructure"]  # stacks easel deploys
    assert deployed
    per_cluster = {body.text().split()[0]: body.text() for body in page.all("table", "stacks")[0].all("tbody")}
    for cluster, stacks in deployed.items():
        for stack, version in stacks.items():
            in_order(per_cluster[cluster], [stack, version, "easel"])


def test_the_same_repository_gives_the_same_bytes(example, tmp_path):
    run = easel_process("-C", str(example), "report", "--out", str(tmp_path), env={"PYTHONHASHSEED": "12345"})
    assert run.code == 0, run.text
    assert (tmp_path / "index.html").read_bytes() == (example / "fleet-report" / "index.html").read_bytes()


def test_the_page_refers_to_nothing_outside_itself(example, page):
    text = (example / "fleet-report" / "index.html").read_text(encoding="utf-8")
    references = [(n.tag, n.attrs[a]) for n in page.walk() for a in ("src", "href", "action", "data")
                  if a in n.attrs]
    assert all(value.startswith("#") for _, value in references), references
    assert not page.all("script") and not page.all("link") and not page.all("img")
    assert "url(" not in text and "@import" not in text
    assert page.all("style")


def test_names_from_the_repository_are_escaped(tmp_path):
    copy = copy_example(tmp_path / "example")
    settings = copy / "easel.yaml"
    hostile = 'https://git.example.com/a<script>alert(1)</script>"x'
    settings.write_text(settings.read_text().replace("https://git.example.com/platform/fleet.git",
                                                     json.dumps(hostile)))
    run = easel("-C", str(copy), "report", "--out", str(tmp_path / "out"))
    assert run.code == 0, run.text
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "a&lt;script&gt;alert(1)&lt;/script&gt;&#34;x" in page


def test_a_repository_with_errors_gets_its_diagnostics_and_no_report(tmp_path):
    copy = copy_example(tmp_path / "example")
    cluster = copy / "clusters" / "dc-east-1.yaml"
    cluster.write_text(cluster.read_text().replace("tier: prod", "tier: pr/od", 1))
    run = easel("-C", str(copy), "report", "--out", "out")
    assert run.code == 1
    assert "error[E208]" in run.err and "dc-east-1.yaml" in run.err
    assert not (copy / "out").exists()


def test_report_without_out_is_bad_usage(tmp_path):
    run = easel("-C", str(copy_example(tmp_path / "example")), "report")
    assert run.code == 2
    assert "--out" in run.err


def test_a_page_that_cannot_be_written_is_an_error_that_names_it(tmp_path):
    copy = copy_example(tmp_path / "example")
    (tmp_path / "out" / "index.html").mkdir(parents=True)
    run = easel("-C", str(copy), "report", "--out", str(tmp_path / "out"))
    assert (run.code, run.err.strip()) == (1, (f"error[E802]: cannot write {tmp_path / 'out' / 'index.html'}: "
                                              "Is a directory"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["index.html"]  # no temporary file left


# --- what a browser makes of it --------------------------------------------------------------------------------

def _chromium(page: Path, shot: Path, profile: Path) -> list[str]:
    """Open page in headless Chromium, write a screenshot; the console messages it logged (the page has no
    scripts, so any message is a problem: a blocked reference, a parse error)."""
    run = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--no-first-run", "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}",
                          f"--screenshot={shot}", "--window-size=1280,1800", page.as_uri()],
                         capture_output=True, text=True, timeout=120, preexec_fn=_unbounded_memory)
    assert run.returncode == 0, run.stderr[-2000:]
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _unbounded_memory() -> None:
    """Chromium reserves far more address space than it uses: lift the ceiling easel's main set on this
    process (cli.MEMORY_LIMIT) for it."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB or RGBA PNG, such as Chromium writes (zlib only)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], None
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", png[at + 8:at + 8 + length])
        elif kind == b"IDAT":
            chunks.append(png[at + 8:at + 8 + length])
        at += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert (depth, interlace) == (8, 0) and colour in (2, 6)
    size = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * size
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(size, stride):
                line[i] = (line[i] + line[i - size]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + (((line[i - size] if i >= size else 0) + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a, b = (line[i - size] if i >= size else 0), previous[i]
                c = previous[i - size] if i >= size else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        previous = line
        rows.append(bytes(line) if size == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
    return width, height, rows


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not installed: {CHROMIUM} "
                                    "(Debian: apt-get install chromium; .ci/run installs it when root)")


@needs_chromium
@pytest.mark.slow  # starts Chromium
def test_chromium_draws_the_report_without_a_console_message(example, tmp_path):
    shot = tmp_path / "report.png"
    assert _chromium(example / "fleet-report" / "index.html", shot, tmp_path / "profile") == []
    width, height, rows = _pixels(shot.read_bytes())
    assert (width, height) == (1280, 1800)
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), 3 * 5)}
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    assert ALLOCATED_COLOUR in colours, "no GPU bar drawn"


@needs_chromium
@pytest.mark.slow  # starts Chromium
def test_the_console_check_sees_a_reference_outside_the_page(example, tmp_path):
    page = tmp_path / "outside.html"
    text = (example / "fleet-report" / "index.html").read_text(encoding="utf-8")
    page.write_text(text.replace("<main>", '<main><img src="https://example.invalid/logo.png">', 1))
    messages = _chromium(page, tmp_path / "outside.png", tmp_path / "profile")
    assert any("example.invalid" in message for message in messages), messages


def test_a_quota_of_zero_is_drawn_reached_and_a_cluster_profiles_add_ons_are_listed(tmp_path):
    copy = copy_example(tmp_path / "example")
    project = copy / "environments/projects/vision.yaml"
    project.write_text(project.read_text().replace("      NVIDIA-H100-80GB-HBM3: 8\n",
                                                   "      NVIDIA-H100-80GB-HBM3: 8\n      NVIDIA-L4: 0\n"))
    run = easel("-C", str(copy), "report", "--out", "report")
    assert run.code == 0, run.text
    page = parse((copy / "report" / "index.html").read_text(encoding="utf-8"))
    [vision] = [body for body in page.by_id("quotas").all("tbody") if body.text().startswith("vision ")]
    [row] = [tr for tr in vision.all("tr", "quota") if tr.text().startswith("NVIDIA-L4 ")]
    [bar] = row.all("div", "bar")
    assert row.text() == "NVIDIA-L4 0 / 0" and "full" in bar.classes  # nothing may be taken: reached
    assert bar.all("b")[0].attrs["style"] == "width:100.00%"

    per_cluster = {body.text().split()[0]: body.text() for body in page.all("table", "stacks")[0].all("tbody")}
    profiled = {}  # cluster -> its cluster profile's add-on layers (name, version)
    for cluster in per_cluster:
        named = _json(copy, "explain", "--cluster", cluster)["clusterProfile"]
        if named:
            name, version = named.split("/")
            layers = yaml.safe_load((copy / f"profiles/cluster-profiles/{name}/{version}.yaml").read_text())
            profiled[cluster] = [(layer["name"], layer["version"]) for layer in layers["spec"]["layers"]
                                 if layer["type"] == "addon"]
    assert any(profiled.values())
    for cluster, addons in profiled.items():
        for name, version in addons:
            in_order(per_cluster[cluster], [name, version, "cluster profile"])
        assert addons or "no stacks" in per_cluster[cluster]
