"""`easel compile --shard I/N`: the clusters of one shard of N, so N CI jobs can render (and publish) a fleet in
parallel. Every job decides for the whole fleet (so they agree on placements, versions and the lock); each
renders and writes only the files of its own clusters. A cluster's shard comes from a digest of its name: stable
across runs, machines and Python versions, and untouched by clusters coming and going."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from compiler.diagnostics.errors import BadArgument

_SPELLING = re.compile(r"([0-9]+)/([0-9]+)")
_PER_CLUSTER = re.compile(r"(?:clusters/([^/]+)/|bootstrap/flux/([^/]+)\.yaml$)")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SPELLING.fullmatch(text.strip())
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise BadArgument(f"{text!r} is not a shard: give I/N with 1 <= I <= N, such as 2/8", "--shard")
        return cls(int(match.group(1)), int(match.group(2)))

    def owns_cluster(self, cluster: str) -> bool:
        number = int.from_bytes(hashlib.sha256(cluster.encode()).digest()[:8], "big")
        return number % self.count == self.index - 1

    def owns_path(self, path: str) -> bool:
        """A cluster's own files (its tree; its Flux bootstrap file) go with its cluster; files that all clusters
        share (the Argo CD ApplicationSet) with shard 1."""
        match = _PER_CLUSTER.match(path)
        if match:
            return self.owns_cluster(match.group(1) or match.group(2))
        return self.index == 1
