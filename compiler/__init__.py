"""easel: a GitOps compiler for self-service AI/ML stacks on Kubernetes.

The compiler is a pipeline of plain stages (pipeline.py), one folder each: load → validate → decide → plan →
render → prove → write. docs/architecture.md is the map.
"""

__version__ = "0.1.0"
