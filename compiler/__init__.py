"""easel: a GitOps compiler for self-service AI/ML stacks on Kubernetes.

The compiler is a pipeline of plain stages (pipeline.py): load → validate → decide (decide/, resolve/) → plan
(plan.py) → render (render/) → write (write.py). docs/architecture.md is the map.
"""

__version__ = "0.1.0"
