"""easel: a GitOps compiler for self-service AI/ML stacks on Kubernetes."""

__version__ = "0.1.0"
