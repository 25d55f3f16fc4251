"""Where each kind of operation goes: `routing_config.yaml`, the format ws_client 1.0.2
already uses on kiosks, so the same file serves both.

```yaml
routes:
  payment: {url: http://127.0.0.1:8011/api/v1/dcpayment/payment, timeout: 35}
  # Optional: where to ask what became of a call whose outcome is unknown (docs/agent.md).
  # payment: {url: …, timeout: 35, status_url: "http://…/payment/{order_id}"}
  fiscal: {url: http://127.0.0.1:8011/api/v1/fiscal, timeout: 35}
default: {url: http://127.0.0.1:8011/api/v1/other, timeout: 30}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from kassa.protocol.terminal import PAYMENT_KIND

#: A card payment takes up to ~31 s on the field gateway; its routes used 35 s.
PAYMENT_TIMEOUT = 35.0
DEFAULT_TIMEOUT = 30.0


class RoutingError(Exception):
    """The routes file cannot be used; the message says where and why."""


class MissingField(Exception):
    """The operation's body lacks a field that the route's `status_url` names."""


@dataclass(frozen=True, slots=True)
class Route:
    url: str
    timeout: float
    #: Where to ask what became of a call whose outcome is unknown: a URL template whose
    #: `{name}` placeholders are filled from the body's top-level fields. None: never asked.
    status_url: str | None = None

    def status_url_for(self, body: Any) -> str:
        """`status_url` filled from `body` (each value URL-quoted); MissingField if a
        placeholder has no value in `body`."""
        assert self.status_url is not None
        fields = body if isinstance(body, dict) else {}
        values = {}
        for name in _placeholders(self.status_url):
            if fields.get(name) is None:
                raise MissingField(name)
            values[name] = quote(str(fields[name]), safe="")
        return self.status_url.format_map(values)

    @property
    def origin(self) -> str:
        """`scheme://host:port/` of the service, what health checks call."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/"


@dataclass(frozen=True, slots=True)
class Routing:
    routes: Mapping[str, Route]
    default: Route | None = None

    def resolve(self, kind: str) -> Route | None:
        return self.routes.get(kind, self.default)

    def kinds(self) -> list[str]:
        """The kinds routed by name (not counting `default`), sorted."""
        return sorted(self.routes)

    def all(self) -> dict[str, Route]:
        """Every route by name, `default` included: what the health checks watch."""
        named = dict(self.routes)
        if self.default is not None:
            named["default"] = self.default
        return named


def load_routing(
    path: Path | None, gateway_url: str, gateway_status_url: str | None = None
) -> Routing:
    """The routes in `path` (none if None); `payment` goes to `gateway_url` (looked up at
    `gateway_status_url`, if given) unless the file routes it."""
    data: Any = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise RoutingError(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise RoutingError(f"{path} is not valid YAML: {exc}") from None
    where = str(path)
    if not isinstance(data, dict):
        raise RoutingError(f"{where}: expected a mapping with `routes:`")
    routes_data = data.get("routes") or {}
    if not isinstance(routes_data, dict):
        raise RoutingError(f"{where}: `routes` must map each kind to {{url, timeout}}")
    routes = {
        str(kind): _route(entry, f"{where}: routes.{kind}") for kind, entry in routes_data.items()
    }
    if PAYMENT_KIND not in routes:
        status_url = None
        if gateway_status_url is not None:
            status_url = _status_url(gateway_status_url, "the gateway status URL")
        url = _url(gateway_url, "the gateway URL")
        routes[PAYMENT_KIND] = Route(url=url, timeout=PAYMENT_TIMEOUT, status_url=status_url)
    default = data.get("default")
    return Routing(routes, None if default is None else _route(default, f"{where}: default"))


def _route(entry: Any, where: str) -> Route:
    if not isinstance(entry, dict) or "url" not in entry:
        raise RoutingError(f"{where} must be {{url, timeout}}")
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise RoutingError(f"{where}.timeout must be a number of seconds above 0")
    status_url = entry.get("status_url")
    return Route(
        url=_url(entry["url"], f"{where}.url"),
        timeout=float(timeout),
        status_url=None if status_url is None else _status_url(status_url, f"{where}.status_url"),
    )


def _status_url(template: Any, where: str) -> str:
    url = _url(template, where)
    try:
        names = _placeholders(url)
    except ValueError as exc:
        raise RoutingError(f"{where} is not a valid template: {exc}") from None
    for name in names:
        if not name.isidentifier():
            raise RoutingError(f"{where}: {{{name}}} must name a field of the body")
    return url


def _placeholders(template: str) -> list[str]:
    """The `{name}` placeholders of `template` (ValueError if it is malformed)."""
    return [name for _, name, _, _ in Formatter().parse(template) if name is not None]


def _url(url: Any, where: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"}:
        raise RoutingError(f"{where} must be an http:// or https:// URL, not {url!r}")
    if not urlsplit(url).netloc:
        raise RoutingError(f"{where} has no host: {url!r}")
    return url
