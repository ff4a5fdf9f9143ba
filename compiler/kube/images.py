"""Container image references: the one place that splits them and rewrites their registry.

References are read as the container runtime reads them (docker/distribution's normalisation, through
docker-image-py): `nginx`, `docker.io/nginx` and `index.docker.io/library/nginx` are one image,
`docker.io/library/nginx`. A reference the library cannot read (a typo, an unfilled placeholder) is split the
plain way, so that its check still says which image it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from docker_image import reference

from compiler.kube import podtemplates
from compiler.model import PodTemplatePath

DEFAULT_REGISTRY = "docker.io"


@lru_cache(maxsize=4096)
def split(image: str) -> tuple[str, str]:
    """(registry, rest): "nginx:1.25" -> ("docker.io", "library/nginx:1.25")."""
    try:
        parsed = reference.Reference.parse_normalized_named(image)
    except Exception:  # the library raises its own error classes, and some of Python's, on bad input
        return _plain_split(image)
    rest = parsed.repository["path"]
    if parsed["tag"]:
        rest += f":{parsed['tag']}"
    if parsed["digest"]:
        rest += f"@{parsed['digest']}"
    return parsed.repository["domain"], rest


def _plain_split(image: str) -> tuple[str, str]:
    first, _, remainder = image.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        return first, remainder
    rest = image if "/" in image else f"library/{image}"
    return DEFAULT_REGISTRY, rest


def normalized(image: str) -> str:
    """The image as the runtime names it: docker.io/library/nginx:1.25."""
    return "/".join(split(image))


def rewrite(image: str, mirror: str) -> str:
    """The image pulled from mirror (a host, or host/path prefix) instead of its own registry."""
    return f"{mirror.rstrip('/')}/{split(image)[1]}"


def allowed(image: str, registries: tuple[str, ...]) -> bool:
    """Whether image comes from one of registries (a host, or a host/path prefix)."""
    full = normalized(image)
    return any(full == r.rstrip("/") or full.startswith(r.rstrip("/") + "/") for r in registries)


def from_values(value: Any) -> str | None:
    """An image from chart values: a string, or Helm's {registry, repository, tag} convention."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("repository"), str):
        image = value["repository"]
        if isinstance(value.get("registry"), str) and value["registry"]:
            image = f"{value['registry'].rstrip('/')}/{image}"
        tag = value.get("tag")
        return f"{image}:{tag}" if tag not in (None, "") else image
    return None


def rewrite_values(value: Any, mirror: str) -> Any:
    """Chart values holding an image, pulled from mirror instead."""
    if isinstance(value, str):
        return rewrite(value, mirror)
    value = dict(value)
    if isinstance(value.get("registry"), str) and value["registry"]:
        value["registry"] = mirror.rstrip("/")
    else:
        value["repository"] = rewrite(value["repository"], mirror)
    return value


def containers(obj: dict[str, Any], declared: Iterable[PodTemplatePath] = ()) -> Iterator[dict[str, Any]]:
    """Every container of the object's pod templates (a custom kind's where its definition declares them)."""
    for template in podtemplates.templates(obj, declared):
        yield from podtemplates.containers(template.template)


def kustomize_rewritten(obj: dict[str, Any], entries: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """kustomize's images transformer, in place: a container whose image name is an entry's `name` gets its
    newName, and newTag (which drops a digest) or digest (which replaces tag and digest)."""
    for container in containers(obj):
        image = container.get("image")
        if not isinstance(image, str):
            continue
        name, tag, digest = split_written(image)
        for entry in entries:
            if entry.get("name") != name:
                continue
            if entry.get("digest"):
                tail = f"@{entry['digest']}"
            elif entry.get("newTag"):
                tail = f":{entry['newTag']}"
            else:
                tail = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            container["image"] = str(entry.get("newName") or name) + tail
    return obj


def split_written(image: str) -> tuple[str, str, str]:
    """An image's name as written, its tag and its digest ("" when absent), as kustomize splits them."""
    rest, _, digest = image.partition("@")
    head, _, last = rest.rpartition("/")
    last, _, tag = last.partition(":")
    return (f"{head}/{last}" if head else last), tag, digest
