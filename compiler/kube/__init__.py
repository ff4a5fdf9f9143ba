"""What easel knows of Kubernetes itself, below every stage that writes objects: its API groups and OpenAPI types
(api.py), the strategic merge kustomize applies (merge.py), where each kind keeps its pods (podtemplates.py),
container image references (images.py) and the one name shortener (names.py)."""
