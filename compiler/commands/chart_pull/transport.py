"""HTTP for `easel charts pull`, with the standard library: every request with a deadline (TIMEOUT) and a size
limit, http and https only (a redirect to another scheme, or from https down to http, is refused), and an
Authorization header never carried across a redirect (a registry's blob store is another host). A host that could
not be reached once is not tried again in the same run. An OCI registry's challenge (401 with `WWW-Authenticate`)
is answered as Docker's client answers it: a bearer token from the realm it names, anonymous unless
credentials.py finds a login for the registry, or the login itself where the registry asks for Basic.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import TypeVar

from compiler import __version__
from compiler.commands.chart_pull import credentials

TIMEOUT = 30.0  # seconds each connection, and each read, may take
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class FetchError(Exception):
    """Why something could not be fetched; str() says it. code: the diagnostic it is reported as (E909: it
    cannot be fetched; E910: what came is not what the repository says it is; E110: not what easel.lock pins);
    hint: what to do, when the code's own hint does not say it."""

    def __init__(self, message: str, code: str = "E909", hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.hint = hint


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes
    url: str


def is_loopback(host: str) -> bool:
    """Whether host (`name[:port]`, `[v6]:port`) is this machine: localhost, 127.0.0.0/8 or ::1."""
    try:
        name = urllib.parse.urlsplit(f"//{host}").hostname or ""
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urllib.parse.urlsplit(req.full_url).scheme, urllib.parse.urlsplit(newurl).scheme
        if new not in ("http", "https") or (old == "https" and new == "http"):
            raise FetchError(f"{req.full_url} redirects to {newurl}: only http and https are followed, and never "
                             "from https down to http")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(proxies: dict[str, str] | None = None) -> urllib.request.OpenerDirector:
    """Only what HTTP needs (no file:, ftp: or data: handler), with the environment's proxies (None), or these."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(proxies), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    _Redirects(), urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


@dataclass
class Session:
    """One run's requests: the hosts that could not be reached, and the authorization each registry repository
    was granted."""
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why
    granted: dict[tuple[str, str], str] = field(default_factory=dict)  # (host, repository) -> Authorization
    opener: urllib.request.OpenerDirector = field(default_factory=_opener)
    direct: urllib.request.OpenerDirector = field(default_factory=lambda: _opener({}))  # loopback: never proxied

    def get(self, url: str, limit: int, headers: dict[str, str] | None = None,
            authorization: str | None = None) -> Response:
        """The response (any status: the caller judges it); FetchError when there is none, or the body is
        over limit bytes."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(f"{url!r} is not an http or https address")
        host = parts.netloc.rpartition("@")[2]
        if host in self.unreachable:
            raise FetchError(self.unreachable[host])
        request = urllib.request.Request(url, headers={"User-Agent": f"easel/{__version__}", **(headers or {})})
        if authorization:
            request.add_unredirected_header("Authorization", authorization)
        try:
            opener = self.direct if is_loopback(host) else self.opener
            with opener.open(request, timeout=TIMEOUT) as answer:
                return Response(answer.status, answer.headers, _read(answer, limit, url), answer.url)
        except urllib.error.HTTPError as exc:
            try:
                return Response(exc.code, exc.headers, _read(exc, 4096, url, cut=True), url)
            finally:
                exc.close()
        except (urllib.error.URLError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            self.unreachable[host] = (f"{host} did not answer within {TIMEOUT:g} s"
                                      if isinstance(reason, TimeoutError) else
                                      f"cannot reach {host}: {getattr(reason, 'strerror', None) or reason}")
            raise FetchError(self.unreachable[host]) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise FetchError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None

    def registry_get(self, host: str, repository: str, url: str, limit: int, accept: str | None = None) -> Response:
        """A GET from an OCI registry's repository, answering its challenge once (see the module's doc)."""
        headers = {"Accept": accept} if accept else {}
        key = (host, repository)
        response = self.get(url, limit, headers, self.granted.get(key))
        if response.status != 401 or key in self.granted:
            return response
        self.granted[key] = self._authorize(host, repository, response.headers.get("WWW-Authenticate") or "")
        return self.get(url, limit, headers, self.granted[key])

    def _authorize(self, host: str, repository: str, challenge: str) -> str:
        scheme = challenge.split(" ", 1)[0].lower()
        fields = dict(_CHALLENGE.findall(challenge))
        login = credentials.basic(host)
        if scheme == "basic":
            if login is None:
                raise FetchError(f"{host} asks for credentials, and none were found for it: log in with "
                                 f"`docker login {host}`")
            return f"Basic {login}"
        realm = fields.get("realm", "")
        if scheme != "bearer" or not realm:
            raise FetchError(f"{host} answered 401 without a challenge easel can answer ({challenge[:200]!r})")
        query = {"service": fields.get("service", host),
                 "scope": fields.get("scope", f"repository:{repository}:pull")}
        token_url = f"{realm}{'&' if '?' in realm else '?'}{urllib.parse.urlencode(query)}"
        secure = urllib.parse.urlsplit(token_url).scheme == "https" or is_loopback(
            urllib.parse.urlsplit(token_url).netloc)
        answer = self.get(token_url, 1 << 20, {"Accept": "application/json"},
                          f"Basic {login}" if login and secure else None)
        if answer.status != 200:
            raise FetchError(f"{host} gave no token to pull {repository} (HTTP {answer.status} from {realm})"
                             + ("" if login else f": a private repository needs `docker login {host}`"))
        try:
            found = json.loads(answer.body)
            token = found.get("token") or found.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise FetchError(f"{host}'s token service ({realm}) answered without a token")
        return f"Bearer {token}"


def _read(answer, limit: int, url: str, cut: bool = False) -> bytes:
    try:
        body = answer.read(limit + 1)
    except (OSError, http.client.HTTPException) as exc:
        if cut:
            return b""
        if isinstance(exc, TimeoutError):
            raise FetchError(f"reading {url} stopped: nothing came for {TIMEOUT:g} s") from None
        raise FetchError(f"reading {url} failed: {type(exc).__name__}: {exc}") from None
    if len(body) > limit and not cut:
        raise FetchError(f"{url} is over {limit // 2**20} MiB")
    return body[:limit]


T = TypeVar("T")


def once(known: dict[str, T | FetchError], key: str, fetch: Callable[[], T]) -> T:
    """What fetch gives for key, fetched once a pull (a failure too: raised again each time it is asked)."""
    if key not in known:
        try:
            known[key] = fetch()
        except FetchError as problem:
            known[key] = problem
    found = known[key]
    if isinstance(found, FetchError):
        raise found
    return found


def status_error(response: Response, what: str) -> FetchError:
    """An answer that is not what was asked for, as an error that says which."""
    text = response.body.decode("utf-8", "replace").strip().replace("\n", " ")
    return FetchError(f"{what}: {response.url} answered HTTP {response.status}" + (f" ({text[:200]})" if text else ""))
