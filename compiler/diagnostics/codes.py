"""Every diagnostic code easel can report, with its default hint. `easel codes` prints this table.

Codes are stable: a code is never reused for another meaning. The hundreds group them by stage:
E1xx reading files, E2xx document shape, E3xx references, E4xx parameters and templates, E5xx versions,
E6xx placement, E7xx policy, E8xx output, E9xx the command line and the file system.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    hint: str | None = None


_ALL = [
    # Reading files
    Code("E101", "YAML syntax error", "check indentation and quoting near the position shown"),
    Code("E102", "a document is not a mapping",
         "every document is a mapping with apiVersion, kind, metadata and spec; write several documents "
         "separated by '---'"),
    Code("E103", "YAML aliases expand too far",
         "anchors and aliases may repeat a block, but not expand to more than a million nodes; write the data out"),
    Code("E104", "duplicate key in a mapping", "each key may appear once; remove or rename one of them"),
    Code("E105", "file cannot be read", "files must be UTF-8 text inside the repository"),
    Code("E106", "path escapes the repository",
         "paths are relative to the repository root and must stay inside it (no '..', no absolute paths, "
         "no symbolic links that point outside)"),
    Code("E107", "YAML tag not allowed", "only plain YAML is read: remove the '!tag'"),
    Code("E109", "a chart archive cannot be read",
         "fetch it again with `easel charts pull`: an archive is a gzipped tar of one chart's folder, its files "
         "regular files (no links), within Helm's sizes"),
    Code("E110", "a chart archive is not the one easel.lock pins",
         "a published chart version never changes: fetch the pinned bytes again with `easel charts pull`, or, if "
         "the new archive is meant, pin it with `easel charts pull --update` and review the change"),
    Code("E111", "a file is past easel's input limits",
         "a file may hold up to 16 MiB and 10,000 documents, nested at most 100 lists or mappings deep: split it "
         "into several files, or flatten the data (README.md, Limits)"),
    Code("E112", "the input files hold too many documents",
         "the input folders may hold up to 1,000,000 documents in all: move what easel is not to read out of them"),
    Code("E108", "easel.lock cannot be read",
         "easel.lock is written by easel: restore it from git, or delete it to place every workload anew"),
    # Document shape
    Code("E201", "unknown or missing apiVersion", "set `apiVersion: easel.dev/v1alpha1`"),
    Code("E202", "unknown kind",
         "kinds are Settings, Repository, ComponentDefinition, TraitDefinition, WorkloadProfile, ClusterProfile, "
         "Cluster, Device, Project, Environment and Workload"),
    Code("E203", "unknown field",
         "remove the field, or fix its spelling; `easel schema KIND` lists the fields of each kind"),
    Code("E204", "missing required field",
         "add the field; `easel schema KIND` shows what each kind requires"),
    Code("E205", "wrong type",
         "write the value as the type shown (quote a string that looks like a number or a boolean)"),
    Code("E206", "invalid value",
         "use one of the values shown; `easel schema KIND` describes each field"),
    Code("E207", "invalid name",
         "names are DNS-1123 labels: lowercase letters, digits and '-', starting and ending with a letter or digit, "
         "at most 63 characters"),
    Code("E208", "invalid label", "label keys are [prefix/]name, values at most 63 characters of [A-Za-z0-9-_.]"),
    Code("E209", "invalid quantity", "write Kubernetes quantities such as 64Gi, 512Mi, 2, 500m"),
    Code("E210", "invalid Jinja2 template",
         "fix the template syntax near the line shown (Jinja2: {{ expression }}, {% statement %})"),
    Code("E211", "not an easel document",
         "YAML files under the input folders hold easel documents; plain Kubernetes manifests belong in a "
         "`manifests` component's `files` or a `kustomize` component's `path`"),
    Code("E212", "invalid selector or toleration",
         "write a Kubernetes label selector or toleration (operators In, NotIn, Exists, DoesNotExist; Equal, Exists)"),
    # References
    Code("E301", "duplicate name", "names are unique per kind (profile versions per name and version)"),
    Code("E302", "unknown reference",
         "check the name: it must name a document of that kind in the repository"),
    Code("E303", "invalid settings",
         "see `easel schema Settings` for what easel.yaml may say"),
    Code("E304", "device for an unknown cluster", "set `spec.cluster` to the name of a Cluster"),
    Code("E305", "component dependency problem",
         "dependsOn names other components of the same profile, without cycles"),
    Code("E306", "referenced file or folder not found",
         "the path is relative to the repository root; check that the file or folder is there"),
    # Parameters and templates
    Code("E401", "unknown parameter",
         "set only parameters the profile declares (`spec.parameters`), or declare it there"),
    Code("E402", "missing parameter", "give the parameter a value in the Workload, or a default in some layer"),
    Code("E403", "locked parameter overridden",
         "a locked parameter may not be set by a higher layer: remove it, or ask the owner of the lock"),
    Code("E404", "parameter value does not match its schema",
         "give a value that matches the parameter's schema in the profile"),
    Code("E405", "template error",
         "check the template against the values it sees; `easel explain WORKLOAD` shows each parameter"),
    Code("E406", "template not allowed in the sandbox",
         "templates see only their parameters and the documented context; Python internals, files and the "
         "network are out of reach"),
    Code("E407", "component or trait properties do not match the definition",
         "see the definition's parameters (`easel schema` for the built-in ones) for what it takes"),
    Code("E408", "template rendered an invalid result",
         "a component template renders Kubernetes objects; a trait template, patches and objects"),
    Code("E410", "a chart or folder names a container but not the objects that have it",
         "add `target: {kind: Deployment, name: <regular expression>}` naming the objects whose container it is: "
         "without it, the patch goes to every Deployment and StatefulSet, and adds the container to those without; "
         "for a chart, `easel charts pull` pins its archive, and with Helm's engine (the `helm` extra) easel then "
         "finds the one object that runs the container"),
    Code("E411", "a trait that placement or policy counts on has nowhere to go on a chart or folder",
         "name the objects and their container (`target: {kind: Deployment, name: <regex>}` and `container: "
         "<name>`), or map the trait to chart values (`traitValues: {<trait>.<property>: <values.path>}`, or "
         "`<trait>.container.<field>` for what it sets on the container); for a chart, `easel charts pull` pins its "
         "archive, and with Helm's engine (the `helm` extra) easel then finds them where the chart runs one"),
    Code("E412", "a custom resource whose CRD nothing installs before it",
         "declare where the CRD comes from: `crds:` on the chart that installs it (and depend on it), a stack in "
         "`requires.profiles`, or `crds:` on the Cluster or its ClusterProfile layer"),
    Code("E413", "a trait's claim template would replace a StatefulSet's own",
         "add the claim to the StatefulSet's own `volumeClaimTemplates` and its `volumeMounts` to the container, "
         "and leave the trait out"),
    Code("E414", "GPUs asked for a CronJob whose runs may overlap",
         "set the CronJob's `concurrencyPolicy: Forbid` (a run due while the last one runs is skipped) or "
         "`Replace` (the last one is stopped first): easel then books one run's pods"),
    Code("E415", "GPUs asked for a DaemonSet, whose pods are one per node it selects",
         "run the GPU pods as a Deployment or StatefulSet (with the `replicas` trait): easel books each one; a "
         "per-node agent that needs the GPUs belongs to the cluster's stack, without the `gpu` trait"),
    Code("E416", "a chart's rendered pods leave open which one a trait goes to",
         "easel rendered the chart to find the object and container its traits go to, and several fit (listed): "
         "write the one you mean as `target: {kind: Deployment, name: <its name>}` and `container: <name>`, or "
         "map the trait to chart values (`traitValues`)"),
    Code("E409", "a trait reaches none of the objects it is meant for",
         "give the component an object the trait applies to (pod-level traits: a Pod, Deployment, ReplicaSet, "
         "StatefulSet, DaemonSet, Job or CronJob, or a custom kind its `podTemplates` declares), or leave the "
         "trait out"),

    # Versions
    Code("E501", "invalid version", "versions are semantic versions such as 1.3.0"),
    Code("E502", "invalid version range", 'ranges are npm/Helm style: "1.2.0", "^1.2", "~1.3", ">=1.2 <2", "1.x", "*"'),
    Code("E503", "no profile version matches",
         "widen the Workload's version range, or publish a profile version the environment allows"),
    Code("E504", "published profile version changed",
         "a published version is never edited: restore it, and publish the change as a new version"),
    Code("E505", "profile dependencies conflict",
         "align the ranges, or publish a version of the stack that satisfies all of them"),
    # Placement
    Code("E601", "workload cannot be placed",
         "the notes above say why each cluster was passed over; `easel explain WORKLOAD` shows more"),
    Code("E602", "fewer eligible clusters than asked",
         "lower `numberOfClusters`, or make more clusters eligible (labels, capacity, taints)"),
    Code("E603", "the nodes easel booked do not carry the labels the pods select",
         "label the nodes (`kubectl label node NODE KEY=VALUE`) and record their labels in the Device's "
         "`facts.nodeLabels` (or run `easel inventory import`), or change the trait that selects them"),
    Code("E604", "the GPUs easel booked are handed out by Dynamic Resource Allocation",
         "the cluster says `gpu.allocation: device-plugin`, but the GPUs booked there were imported from "
         "ResourceSlices: remove that setting (a cluster whose GPUs all come from ResourceSlices allocates them "
         "through DRA), or keep the workload off this cluster: device-plugin requests (`nvidia.com/gpu`) are "
         "never satisfied by GPUs published through ResourceSlices"),
    Code("E605", "a DRA claim would select a GPU product by a name its devices do not publish",
         "import the cluster's ResourceSlices (`easel inventory import --cluster NAME slices.json`), so that "
         "easel knows the `productName` NVIDIA's DRA driver gives the product"),
    Code("E606", "Dynamic Resource Allocation on a cluster whose Kubernetes is older than 1.34",
         "easel writes `resource.k8s.io/v1` claims, which Kubernetes serves from 1.34 on: upgrade the cluster "
         "(its `kubernetesVersion`, or its cluster profile's kubernetes layer), or set `gpu.allocation: "
         "device-plugin`"),
    Code("E607", "a rollout's new version does not fit where its wave reaches",
         "a cluster a wave reached books the GPUs of the version it runs: make room there, lower the new "
         "version's GPU ask, or `easel rollout rollback WORKLOAD`"),
    # Policy
    Code("E701", "project not allowed in the environment", "add the project to the Environment's `spec.projects`"),
    Code("E702", "profile not allowed in the environment", "see the Environment's `spec.policy.allowedProfiles`"),
    Code("E703", "too many GPUs for one workload", "see the Environment's `spec.policy.maxGPUsPerWorkload`"),
    Code("E704", "project GPU quota exceeded", "raise the Project's `spec.quota`, or ask for fewer GPUs or clusters"),
    Code("E705", "required trait missing",
         "add the trait to the component, or to the Environment's `spec.defaults.traits`"),
    Code("E706", "image registry not allowed", "see the Environment's `spec.policy.allowedRegistries`"),
    # Output
    Code("E801", "output conflict",
         "give the objects or namespaces different names, or align the environments' namespace settings"),
    Code("E802", "output cannot be written",
         "check that the output folder is a writable real folder inside the repository"),
    Code("E803", "output is stale", "run `easel compile` and commit the result"),
    Code("E804", "easel.lock would change",
         "run `easel compile` (or `easel lock --update`) and commit easel.lock with output/"),
    Code("E805", "not deliverable as an OCI artifact",
         "make it a `manifests` component (its objects are then rendered into the cluster's tree), or keep "
         "`gitops.delivery: git`"),
    Code("E806", "a chart Argo CD would inflate through kustomize, which cannot pull it (a private or Git repository)",
         "map the trait to chart values with `traitValues: {<trait>.<property>: <values.path>}` so that no patch is "
         "needed and Argo CD's own Helm or Git source, which gets the repository's credentials, renders the chart; or "
         "run the cluster with Flux (`gitops: {engine: flux}`), whose HelmRelease reads the Repository's secretRef; "
         "or hydrate the release (`gitops.render: hydrated`): easel then writes the chart's objects, and the cluster "
         "needs no access to the chart"),
    # The proof of the rendered trees (prove/tree.py): a failure is a bug in easel or a definition, never noise
    Code("E810", "the rendered pods do not request the GPUs easel booked",
         "the component's definition or a trait sets GPU requests or replicas that easel does not count: check "
         "the `gpu` and `replicas` traits against the definition's own `replicas` and resource limits"),
    Code("E811", "a rendered object lacks a label SPEC §6 gives its kind, or carries one it must not",
         "a definition's template or a patch replaced the object's labels: keep `metadata.labels` mergeable, and "
         "leave the version and component labels off namespace-wide objects"),
    Code("E812", "a rendered image is not listed for mirroring or not from an allowed registry",
         "name images where easel can see them (a definition's containers, a chart's `imageValues`), and pull "
         "them from a registry the environment allows, or use the `image-registry` trait to rewrite them"),
    Code("E813", "a required trait did not reach a pod template",
         "a definition's template or a later trait's patch overrides what the required trait sets: remove the "
         "override, or make the component's objects keep the trait's settings"),
    Code("E814", "the cluster's API server would reject a rendered object",
         "a definition's template or a trait writes a field Kubernetes does not have at the cluster's version, or a "
         "value of the wrong type there: fix the template, or the version the cluster is said to run"),
    Code("E815", "the rendered pods can land on GPUs easel did not book for them",
         "a template or a trait replaced the GPU product selector the `gpu` trait writes: keep the node selector "
         "or affinity on nvidia.com/gpu.product, narrowed to the products booked"),
    Code("E816", "a chart easel has not proven, where easel.yaml requires proof",
         "fetch and pin its archive with `easel charts pull` (and install easel's `helm` extra, Helm's engine), "
         "or set `charts.proof: warn` in easel.yaml to take the chart on trust"),
    Code("E817", "a chart's patch target or container is not among the chart's rendered objects",
         "set the component's `target` (kind and name regex) and `container` to objects and a container the chart "
         "renders with these values: the error lists the chart's pod objects and their containers"),
    Code("E818", "Helm's engine cannot render the chart",
         "fix the chart's values (or the chart); a chart that loops or needs more memory than easel allows its "
         "engine is refused, as is one whose output is not YAML"),
    Code("E819", "a chart's values do not match its values.schema.json",
         "give the values the chart's schema asks for, at the path shown"),
    Code("E821", "a pod its namespace's quota would refuse",
         "the environment's namespace quota constrains a compute resource (requests.cpu, limits.memory, ...): set "
         "it on every container with the `resources` trait (on a chart, through `traitValues` or its values), or "
         "drop that key from the quota"),
    Code("E820", "a chart does not support the cluster's Kubernetes version",
         "use a chart version whose `kubeVersion` includes the cluster's, or place the workload elsewhere"),
    Code("E822", "an image is not from a registry its cluster allows",
         "see the Cluster's `spec.registry`: its `mirror` rewrites the images easel can see (the containers of "
         "objects it renders, a chart's `imageValues`, the images an `image-registry` trait names); name a chart's "
         "other images in `imageValues`, or add their registry to `allowed`"),
    Code("E823", "a hydrated chart cannot be rendered",
         "`gitops.render: hydrated` writes a chart's rendered objects, so easel must render it: run `easel charts "
         "pull` to fetch and pin its archive (and install easel's `helm` extra, Helm's engine), or render the "
         "release with `gitops.render: helmrelease`"),
    Code("E824", "a hydrated chart renders a Secret",
         "hydrated output is committed to Git, so it never holds a Secret: give the chart a Secret that exists on "
         "the cluster (most charts take its name in a value such as `existingSecret`; create it with External "
         "Secrets, Sealed Secrets or SOPS), or render the release with `gitops.render: helmrelease`"),
    Code("E825", "a hydrated chart has a hook with no phase to run in",
         "hydrated output maps a Helm hook that runs before or after an install or upgrade to the engine's phases "
         "(a Flux layer, an Argo CD PreSync or PostSync hook); one that runs only on delete or rollback has none: "
         "turn it off through the chart's values, or render the release with `gitops.render: helmrelease`"),
    Code("E827", "an object a team's Argo CD AppProject does not let it sync",
         "a team's Applications may sync into the namespaces easel placed its workloads in on the cluster and create "
         "no cluster-scoped object but CRDs: run what needs more as an infrastructure stack (a profile of `type: "
         "Infrastructure`, which a workload `requires`), turn it off through the chart's values, or sync that "
         "cluster with Flux"),
    Code("E826", "a hydrated chart renders differently each time",
         "its templates use random values or the time, so what easel writes would change with every compile: set "
         "the values that make it stable (most charts take a generated password or token from an existing Secret), "
         "or render the release with `gitops.render: helmrelease`"),
    # Command line
    Code("E901", "unknown workload or cluster",
         "`easel status` lists the clusters; workloads are named PROJECT/NAME or NAME"),
    Code("E902", "not a config repository",
         "run it in a config repository (with easel.yaml), or make one with `easel init`"),
    Code("E903", "git revision not found",
         "give a commit, branch or tag of the repository the folder is in (see `git log`, `git branch`)"),
    Code("E904", "git working tree not as needed",
         "commit or stash the changes, or run it in the repository's main working tree"),
    Code("E905", "another easel run holds the repository",
         "wait for it to finish (run without --no-wait to wait), or, if none is running, try again"),
    Code("E906", "out of memory",
         "something in the repository (a template, a huge file) asks for more memory than easel allows itself"),
    Code("E907", "the registry refused the artifact or cannot be reached",
         "check the registry address and your login (`docker login`, or ~/.docker/config.json)"),
    Code("E908", "no rollout in progress",
         "`easel rollout status` lists the rollouts in progress; a rollout starts when a workload moves to a new "
         "profile version in an environment with `rollout.strategy: progressive`"),
    Code("E909", "a chart cannot be fetched",
         "check the Repository's url, and that the chart and version are published there; an OCI registry that "
         "asks for credentials gets those of `docker login` (~/.docker/config.json), an HTTP Helm repository none; "
         "for an OCI registry without TLS, add --plain-http. Nothing was written"),
    Code("E910", "a fetched chart archive is not what its repository says",
         "the repository serves an archive whose digest differs from its index or manifest, or one that is not a "
         "chart archive of the chart and version asked for: report it to the chart's publisher. Nothing was "
         "written"),
    Code("E911", "charts.path cannot hold chart archives",
         "set `charts.path` in easel.yaml to a folder inside the repository, neither its root nor inside the "
         "output folder (or `charts.commit: false` to keep them in easel's cache)"),
    Code("E912", "the node list is not the cluster's",
         "check `--cluster`, and that the list came from that cluster (`kubectl config current-context`); if its "
         "nodes are to replace the recorded devices (a rebuilt cluster), run again with --replace"),
    Code("E999", "internal error", "this is a bug in easel: please report it with the input that caused it; "
         "set EASEL_DEBUG=1 to see the traceback"),
    # Warnings
    Code("W101", "device GPU facts unknown",
         "gather facts, or tag the device (`tags: {gpu.product: ..., gpu.count: ...}`); unknown GPUs never count"),
    Code("W102", "profile parameter unused",
         "use the parameter in a component or trait, or remove it from the profile"),
    Code("W103", "trait settings a chart or folder cannot take",
         "name the objects and their container in the component's `target` and `container`, or map the trait to "
         "chart values with `traitValues: {<trait>.<property>: <values.path>}`"),
    Code("W104", "a profile version that can never be deployed",
         "its requires.profiles names a range no published version satisfies"),
    Code("W105", "strict isolation cuts something off",
         "add the namespace of the ingress controller or of Prometheus to the Environment's `namespace.allowFrom`"),
    Code("W106", "a cluster older than the Kubernetes schemas easel has",
         "its objects are checked against the oldest schemas easel ships; upgrade the cluster, or check its "
         "objects against its own version by hand"),
    Code("W107", "a chart easel has not proven",
         "run `easel charts pull` to fetch and pin its archive (and install easel's `helm` extra, Helm's engine): "
         "until then its objects are taken on trust; `charts.proof: required` in easel.yaml makes this an error"),
    Code("W108", "a chart's objects depend on the live cluster",
         "the chart calls `lookup` or renders differently each time (random values, timestamps): what easel proved "
         "may differ from what the cluster renders; set the values that make it stable"),
    Code("W109", "a chart from a Git repository is not fetched (no longer reported)",
         "`easel charts pull` fetches a Git repository's charts too now (at a commit of the Repository's ref, "
         "pinned in easel.lock): no run reports this code any more, and it is never given another meaning"),
    Code("W110", "a change the cluster cannot make in place",
         "the update of this field is refused, and the engine retries it in vain: give the object a new name (a new "
         "PersistentVolumeClaim name for other storage), or delete it in the cluster and let the engine create it "
         "again (a StatefulSet: `kubectl delete statefulset NAME --cascade=orphan` keeps its pods and claims)"),
    Code("W111", "gitops.repoURL is a placeholder", "set gitops.repoURL to the repository your clusters read"),
    Code("W112", "a kustomize folder uses what easel does not build",
         "the proof builds a folder's resources, patches, images, replicas, namespace, labels and annotations as "
         "kustomize does; write what the folder needs with those (a patch instead of a component or replacement) "
         "to have it proven, or accept that the engine alone builds the rest"),
    Code("W113", "a YAML file holds no document",
         "easel reads nothing from a file that is empty or holds only comments: write its documents, or delete it"),
    Code("W115", "a hydrated chart has a hook that runs on install only",
         "Helm runs it once, on the release's first install; hydrated output cannot tell an install from an upgrade, "
         "so the engine runs it again (Argo CD on every sync, Flux whenever the release changes): make sure it can "
         "run again, or render the release with `gitops.render: helmrelease`"),
    Code("W114", "a published version checked with a stand-in value for a parameter nothing sets",
         "give such a parameter `examples: [...]` in a profile's next version to have it checked with that value"),
]

CODES: dict[str, Code] = {c.code: c for c in _ALL}
