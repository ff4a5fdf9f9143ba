"""The Flux bootstrap is written once with a stand-in for the cluster's name: for any cluster name easel accepts
(a DNS label, YAML keywords and numbers among them) and either delivery, the text is the one written for that
cluster directly, and Go's YAML reader reads the name back as written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as run
from hypothesis import strategies as st

from compiler.diagnostics import Location
from compiler.load.yamlio import load_all
from compiler.model import Settings
from compiler.render import flux

LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
KEYWORDS = st.sampled_from(["on", "off", "yes", "no", "y", "n", "true", "null", "123", "1e3", "0x1f", "2024-01-01"])
DELIVERIES = st.sampled_from([
    Settings(loc=Location("easel.yaml")),
    Settings(loc=Location("easel.yaml"), delivery="oci", oci_repository="registry.example.com/fleet"),
    Settings(loc=Location("easel.yaml"), output="rendered/out", repo_url="ssh://git@example.com/a/b.git"),
])


@run(max_examples=80, deadline=None)
@given(st.lists(LABELS | KEYWORDS, min_size=1, max_size=5, unique=True), DELIVERIES)
def test_the_template_writes_what_each_cluster_gets_directly(names, delivery):
    written = flux.bootstrap(delivery, names)
    for name in names:
        text = written[f"bootstrap/flux/{name}.yaml"]
        assert text == flux._bootstrap_text(delivery, name)
        source, sync = load_all(text)
        assert f"/{name}/" in sync["spec"]["path"] or delivery.delivery == "oci"
        assert delivery.delivery != "oci" or source["spec"]["url"].endswith(f"/{name}")


def test_a_setting_that_holds_the_stand_in_is_written_cluster_by_cluster():
    odd = Settings(loc=Location("easel.yaml"), repo_url=f"https://example.com/{flux.CLUSTER}.git")
    text = flux.bootstrap(odd, ["a"])["bootstrap/flux/a.yaml"]
    assert flux.CLUSTER in text and text == flux._bootstrap_text(odd, "a")
