"""The compiler, top to bottom:

    load      load/       the repository's files (the only stage that reads)
    validate  validate/   typed Model; easel.lock parsed into the previous Decisions (record/lockfile.py)
    decide    decide/     versions, resolution, policy, placement, stacks, rollout waves: Decisions
    plan      plan/       per cluster, exactly what it runs: ClusterPlan
    prove     prove/      what a cluster would reject of it, before anything is written
    published decide/candidates.py, then decide to prove again: each profile version no workload runs in an
              environment that allows it, checked as a stand-in workload there (never written)
    render    render/     per cluster and engine, the output tree as texts

Writing is the caller's last step (write/), so that `validate`, `compile --check`, `explain` and `diff` run the
very same stages without touching disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from compiler import load, validate
from compiler.decide import candidates, decide, inventory, resolve
from compiler.decide.candidates import Group, StandIn
from compiler.decide.eligibility import StaticIndex
from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import Resolutions
from compiler.decide.rollout import step as rollout_step
from compiler.diagnostics import Diagnostic, Diagnostics
from compiler.hydrate import hydrate
from compiler.load import RawRepo
from compiler.load.source import Source
from compiler.model import Model
from compiler.model.charts import ChartArchive
from compiler.model.parts import HelmChart
from compiler.plan import HYDRATED, Plans, plan
from compiler.plan.shards import Shard
from compiler.prove import ProvenTree, prove, prove_clusters
from compiler.prove.chart_objects import ChartProof, ChartRendering, ChartRequest, objects_in
from compiler.record import lockfile
from compiler.record.decisions import Decisions
from compiler.render import QUIET, Progress, Tree
from compiler.runtime import cache, helm
from compiler.runtime.cache import Cache


@dataclass(frozen=True)
class RolloutStep:
    """`easel rollout advance|rollback`: applied to easel.lock as read, before everything is decided anew."""
    kind: str  # "advance" | "rollback"
    workloads: tuple[str, ...] = ()
    everything: bool = False


# How far a run goes: "decide" for what needs only the decisions (`status`, `report`, `inventory import`);
# "plan" for the plans, proven, and the lock (`compile` and `build`, which render and prove a cluster at a time
# themselves, as they write or print it); "prove" for every stage that can reject the repository, each
# cluster's tree rendered, proven and dropped (`validate`); "render" for the whole tree in memory, proven.
LastStage = Literal["decide", "plan", "prove", "render"]


@dataclass(frozen=True)
class Request:
    last_stage: LastStage = "render"
    update: str | None = None  # "*" or a profile name: `easel lock --update [PROFILE]`
    rollout: RolloutStep | None = None
    shard: Shard | None = None  # `compile --shard I/N`: decide for the fleet, render this shard's clusters


@dataclass
class Result:
    texts: dict[str, str]  # file texts read, for printing diagnostic positions
    diagnostics: Diagnostics
    model: Model | None = None
    fleet: dict[str, ClusterFacts] = field(default_factory=dict)
    previous: Decisions = field(default_factory=Decisions)  # easel.lock as it was read
    decisions: Decisions = field(default_factory=Decisions)
    resolutions: Resolutions = field(default_factory=lambda: Resolutions({}, {}))
    plans: Plans | None = None
    files: dict[str, str] | None = None  # the output tree; None when there were errors
    lock_text: str | None = None  # easel.lock as this compile leaves it
    checked: frozenset[tuple[str, int]] = frozenset()  # (file, index) of the documents that passed their schema
    # the published versions no workload runs in an environment that allows them, as they were checked there
    published: tuple[tuple[StandIn, tuple[Group, ...]], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors

    def require_model(self) -> Model:
        """The model, for what runs only once validate built one (reports, writing)."""
        if self.model is None:
            raise ValueError("the repository was not read into a model")
        return self.model

    def require_plans(self) -> Plans:
        """The plans, for what runs only once a compile planned every cluster."""
        if self.plans is None:
            raise ValueError("the compile made no plans")
        return self.plans


class HelmCharts:
    """The proof's chart engine: Helm's own (runtime/helm.py, in a spawned worker started on the first render),
    one render per distinct request (prove/chart_objects.py's key: the archive's digest, the values, the release,
    the namespace, the cluster's Kubernetes version and API versions)."""

    # renders this process made, shared by its compiles (validate then compile, a test suite's many): a render is
    # a pure function of its key; forgotten past LIMIT entries, so it never grows with a fleet
    known: ClassVar[dict[str, ChartRendering]] = {}
    LIMIT = 5_000

    def __init__(self, store: Cache) -> None:
        self.engine, self.store = helm.Engine(), store
        self.failed: dict[str, ChartRendering] = {}  # timeouts and crashes: for this run only, never kept
        if len(self.known) > self.LIMIT:
            HelmCharts.known = {}

    def render(self, request: ChartRequest) -> ChartRendering:
        """From this run's renders, else easel's cache (renders are deterministic: a render error is kept too,
        never a timeout or a crash), else the engine."""
        key = request.key()
        if key in self.failed:
            return self.failed[key]
        if key not in self.known:
            entry = f"render-{cache.content_digest(f'{key} {helm.version()}'.encode())}.json"
            kept = self.store.read(entry)
            if isinstance(kept, dict) and kept.get("failure") in (None, "render"):
                self.known[key] = ChartRendering(kept.get("manifests"), kept.get("failure"), kept.get("message", ""),
                                                 kept.get("stable") is not False)
                return self.known[key]
            asked = helm.RenderRequest(request.archive.data, request.values, request.release, request.namespace,
                                       request.kube_version, request.api_versions)
            found = self.engine.render(asked)
            # rendered twice: a chart whose templates use random values or the time renders differently each time
            again = self.engine.render(asked) if found.failure is None else found
            rendering = ChartRendering(found.manifests, found.failure, found.message,
                                       again.manifests == found.manifests)
            if found.failure not in (None, "render"):  # a timeout or a crash: this run's answer only
                self.failed[key] = rendering
                return rendering
            self.known[key] = rendering
            self.store.write(entry, {"manifests": found.manifests, "failure": found.failure, "message": found.message,
                                     "stable": rendering.stable})
        return self.known[key]

    def close(self) -> None:
        self.engine.close()


class ChartPodsSeen:
    """What decide sees of the charts easel can render (decide/resolve/chart_pods.py): their objects as the proof's
    engine renders them, for no cluster in particular (renders kept by HelmCharts by their key: once per archive,
    values, release and namespace, however many resolutions ask)."""

    def __init__(self, proof: ChartProof) -> None:
        self.proof = proof
        self.seen: dict[str, list[dict[str, Any]] | None] = {}

    def objects(self, chart: HelmChart, release: str, namespace: str) -> list[dict[str, Any]] | None:
        archive = self.proof.archives.get(chart.key)
        if archive is None:
            return None
        request = ChartRequest(archive, chart.values, release, namespace)
        key = request.key()
        if key not in self.seen:
            rendering = self.proof.engine.render(request)
            self.seen[key] = objects_in(rendering.manifests) if rendering.manifests is not None else None
        return self.seen[key]


def _seen(proof: ChartProof | None) -> ChartPodsSeen | None:
    return ChartPodsSeen(proof) if proof is not None else None


def chart_proof(model: Model, store: Cache = Cache(None)) -> ChartProof | None:
    """What the proof needs to see inside charts: the pinned archives and Helm's engine (None: neither is there).
    store: easel's cache, which keeps renders between runs."""
    archives = proof_archives(model)
    return ChartProof(archives, HelmCharts(store)) if archives and helm.available() else None


def proof_archives(model: Model) -> dict[tuple[str, str, str], ChartArchive]:
    """Every chart easel can render, by (repository, chart, version): the archives easel.lock pins, and the
    in-house charts (repository "")."""
    return {**model.charts, **{("", archive.name, archive.version): archive for archive in model.in_house.values()}}


def _hydrated(plans: Plans, model: Model, store: Cache, diagnostics: Diagnostics,
              proof: ChartProof | None = None) -> Plans:
    """The plans with each hydrated chart rendered into them (hydrate/), what stopped one said; the engine is
    started only when a release is hydrated, and closed again (unless the caller's)."""
    if not any(r.render == HYDRATED for p in plans.clusters.values() for r in p.releases):
        return plans
    charts = proof or chart_proof(model, store)
    try:
        hydrated, found = hydrate(plans, charts, proof_archives(model))
    finally:
        if charts is not None and proof is None:
            charts.engine.close()
    diagnostics.extend(found)
    return hydrated


def compile_repository(source: Source, request: Request = Request(), progress: Progress = QUIET) -> Result:
    return compile_loaded(load.load(source), request, progress)


def compile_loaded(raw: RawRepo, request: Request = Request(), progress: Progress = QUIET,
                   store: Cache = Cache(None)) -> Result:
    """The stages in order, each adding its diagnostics; a stage runs only when those before it found no error
    that it would trip over (deciding still runs after some, so that one run reports as much as it can)."""
    diagnostics = raw.diagnostics
    result = Result(raw.texts, diagnostics)
    progress.phase("validating")
    model, invalid, checked = validate.validate(raw)
    diagnostics.extend(invalid)
    result.checked = frozenset(checked)
    previous, unreadable = lockfile.parse(raw.lock_text)  # easel.lock: the decisions of the last compile
    diagnostics.extend(unreadable)
    diagnostics.extend(validate.check_recorded_profiles(model, previous))
    result.model, result.previous = model, previous
    if request.rollout is not None and not diagnostics.has_errors:
        step = request.rollout
        previous = rollout_step(previous, model, step.workloads, step.everything, step.kind)
    result.fleet = inventory.fleet(model, diagnostics)
    progress.phase("deciding")
    proof = chart_proof(model, store)  # where a chart component leaves its target out, its chart is looked at
    try:
        result.decisions, result.resolutions, undecided = decide(model, result.fleet, previous, request.update,
                                                                 diagnostics.has_errors, _seen(proof))
    finally:
        if proof is not None:
            proof.engine.close()
    diagnostics.extend(undecided)
    if diagnostics.has_errors or request.last_stage == "decide":
        return result
    progress.phase("planning")
    result.plans, unplanned = plan(model, result.fleet, result.decisions, result.resolutions)
    diagnostics.extend(unplanned)
    result.plans = _hydrated(result.plans, model, store, diagnostics)
    diagnostics.extend(prove(result.plans, result.fleet, result.decisions, result.resolutions.dra_products,
                             proof_archives(model), helm.available()))
    _published(result, model, store)
    if not diagnostics.has_errors:
        result.lock_text = lockfile.dump(result.decisions)
        if request.last_stage in ("prove", "render"):
            result.files = _proven_tree(result, request, model, progress, store)
    return result


def _proven_tree(result: Result, request: Request, model: Model, progress: Progress,
                 store: Cache) -> dict[str, str] | None:
    """Every cluster's tree rendered and proven, a cluster at a time; the whole tree when the request keeps it
    (None when the proof found an error: such a tree is written by no one, and the lock with it)."""
    tree = ProvenTree(Tree(result.require_plans(), request.shard, progress), model, result.decisions, result.fleet,
                      chart_proof(model, store))
    files: dict[str, str] = {}
    for part in tree.parts():
        if request.last_stage == "render":
            files.update(part)
    result.diagnostics.extend(tree.problems())
    if result.diagnostics.has_errors:
        result.lock_text = None
        return None
    return dict(sorted(files.items())) if request.last_stage == "render" else None


def _published(result: Result, model: Model, store: Cache) -> None:
    """Every published profile version, in each environment that allows it where no workload runs it, checked as
    a workload would be (decide/candidates.py): resolved, then decided, planned, rendered and proven on one cluster
    per distinct set of facts its environment could place it on. Only problems are kept: nothing is written."""
    findings = candidates.Findings({(d.code, d.location, d.message) for d in result.diagnostics})
    static = StaticIndex(result.fleet, model.profiles)
    proof = chart_proof(model, store)
    seen = _seen(proof)  # a stand-in's chart leaving its target out is looked at as a workload's is
    keys: dict[tuple[str, bool], tuple] = {}
    checked = []
    try:
        for stand_in in candidates.stand_ins(model, result.resolutions):
            workload, problems = candidates.resolved(model, stand_in, seen)
            findings.add(problems, stand_in, candidates.seen(stand_in))
            groups = candidates.groups(workload, result.fleet, static, keys) \
                if workload is not None and not any(p.is_error for p in problems) else []
            if groups:
                said = {(p.code, p.location, p.message) for p in problems}
                found, placed = _proven(model, stand_in, {g.representative: result.fleet[g.representative]
                                                          for g in groups}, result.decisions, proof, seen)
                groups = [g for g in groups if g.representative in placed]
                findings.add([p for p in found if (p.code, p.location, p.message) not in said], stand_in,
                             candidates.seen(stand_in, groups))
            checked.append((stand_in, tuple(groups)))
        for profile in candidates.stacks_unrun(model, result.resolutions):
            findings.add(resolve.resolve_stack(model, profile, charts=seen)[1], None,
                         candidates.Seen(f"{profile.meta.name} {profile.version}", None, loc=profile.meta.loc))
    finally:
        if proof is not None:
            proof.engine.close()
    result.published = tuple(checked)
    result.diagnostics.extend([*findings.diagnostics(), *candidates.unchecked(s for s, _ in checked)])


def _proven(model: Model, stand_in: StandIn, fleet: dict[str, ClusterFacts], decided: Decisions,
            proof: ChartProof | None, seen: ChartPodsSeen | None = None) -> tuple[list[Diagnostic], tuple[str, ...]]:
    """The stand-in decided (placed on every cluster given that can take it: those returned), planned, and each
    cluster's tree rendered and proven; what a stage finds stops the stages after it, as in a compile."""
    sub = candidates.sub_model(model, stand_in)
    # the stacks each cluster runs now, kept where they serve the stand-in too (as easel.lock's are)
    running = Decisions(clusters={name: held for name, held in decided.clusters.items() if name in fleet})
    decisions, resolutions, found = decide(sub, fleet, running, charts=seen)
    problems, placed = list(found), decisions.workload(stand_in.workload.id).clusters or ()
    if not placed or any(p.is_error and p.code not in candidates.NOT_THE_VERSIONS for p in problems):
        return problems, ()
    plans, planned = plan(sub, fleet, decisions, resolutions)
    hydrating = Diagnostics()
    plans = _hydrated(plans, model, Cache(None), hydrating, proof)
    problems += [*hydrating, *planned, *prove(plans, fleet, decisions, resolutions.dra_products, proof_archives(model),
                                  helm.available())]
    if any(p.is_error for p in problems if p.code not in candidates.NOT_THE_VERSIONS):
        return problems, placed
    return problems + prove_clusters(plans, sub, decisions, fleet, proof), placed
