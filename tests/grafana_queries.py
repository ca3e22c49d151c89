"""Every PromQL query of the genmedia Grafana dashboards, ready to run against a plain Prometheus.

`dashboard_queries()` reads the dashboards in ``deploy/helm/genmedia/files/dashboards/`` and returns
one `PanelQuery` per panel target (row panels' nested panels included). ``expr`` is the query as
Grafana stores it; ``expr_substituted`` has Grafana's variables replaced, so the query can be sent
to Prometheus's HTTP API as is. The rules:

- ``$__rate_interval``, ``$__interval`` (and their ``${...}`` forms) become ``window``
  (default ``"1m"``; it must hold at least two scrapes of the Prometheus under test);
- ``$__range`` becomes ``range_`` (default ``"5m"``), ``$__range_s`` its seconds and
  ``$__range_ms`` its milliseconds;
- a dashboard variable named in ``values`` becomes that value; by default ``application`` is
  ``"genmedia"`` (the Serve application name Ray puts on every series);
- any other dashboard variable that is multi-valued or has "All" becomes its ``allValue``, or
  ``".+"`` when it has none: the dashboards use such variables only in regex matchers
  (``deployment=~"$deployment"``), where ``.+`` selects every series that has the label;
- ``$var``, ``${var}``, ``${var:format}`` and ``[[var]]`` are all recognised. A variable that none
  of these rules covers (a single-valued one missing from ``values``, or a typo) raises
  `UnknownVariable`, so that no query reaches Prometheus with a ``$`` left in it.

No Ray, no Grafana: only the standard library, so any test can import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DASHBOARDS_DIR = Path(__file__).resolve().parent.parent / "deploy" / "helm" / "genmedia" / "files" / "dashboards"
DEFAULT_VALUES: Mapping[str, str] = {"application": "genmedia"}

# $name, ${name}, ${name:format}, [[name]] (Grafana's variable syntaxes); names may start with __.
_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::[^}]*)?\}|\[\[(?P<bracketed>\w+)(?::[^\]]*)?\]\]|\$(?P<plain>\w+)")


class UnknownVariable(ValueError):
    """A query uses a variable that the substitution rules do not cover."""


@dataclass(frozen=True)
class PanelQuery:
    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str
    expr_substituted: str

    @property
    def dashboard(self) -> str:
        """Alias of dashboard_uid."""
        return self.dashboard_uid

    @property
    def panel(self) -> str:
        """Alias of panel_title."""
        return self.panel_title

    def __str__(self) -> str:
        return f"{self.dashboard_uid} / {self.panel_title} / {self.ref_id}: {self.expr_substituted}"


def iter_panels(dashboard: dict):
    """Every panel of a dashboard, the ones inside (collapsed) rows included, rows themselves too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def load_dashboards(dashboards_dir: Path = DASHBOARDS_DIR) -> dict[Path, dict]:
    """The dashboard JSON files of `dashboards_dir`, parsed, by path (sorted by name)."""
    paths = sorted(Path(dashboards_dir).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no dashboard JSON files in {dashboards_dir}")
    return {path: json.loads(path.read_text()) for path in paths}


def _seconds(duration: str) -> int:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration):
        total += int(number) * units[unit]
    if not total:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return int(total)


def variable_values(dashboard: dict, window: str = "1m", range_: str = "5m",
                    values: Mapping[str, str] = DEFAULT_VALUES) -> dict[str, str]:
    """What each variable a query may use stands for in this dashboard (see the module docstring)."""
    resolved = {
        "__rate_interval": window,
        "__interval": window,
        "__range": range_,
        "__range_s": str(_seconds(range_)),
        "__range_ms": str(_seconds(range_) * 1000),
    }
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if name in values:
            resolved[name] = values[name]
        elif variable.get("multi") or variable.get("includeAll"):
            resolved[name] = variable.get("allValue") or ".+"
    return resolved


def substitute(expr: str, resolved: Mapping[str, str]) -> str:
    """`expr` with every variable replaced by its value in `resolved`; raises UnknownVariable otherwise."""
    def replace(match: re.Match) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        if name not in resolved:
            raise UnknownVariable(f"variable ${name} in {expr!r} has no substitution rule")
        return resolved[name]

    return _VARIABLE.sub(replace, expr)


def dashboard_queries(dashboards_dir: Path = DASHBOARDS_DIR, window: str = "1m", range_: str = "5m",
                      values: Mapping[str, str] = DEFAULT_VALUES) -> list[PanelQuery]:
    """One PanelQuery per target of every panel of every dashboard in `dashboards_dir`.

    `window` replaces $__rate_interval and $__interval, `range_` replaces $__range, and `values`
    gives single-valued dashboard variables (merged over the default application=genmedia).
    """
    values = {**DEFAULT_VALUES, **values}
    queries = []
    for path, dashboard in load_dashboards(dashboards_dir).items():
        resolved = variable_values(dashboard, window, range_, values)
        uid = dashboard.get("uid") or path.stem
        for panel in iter_panels(dashboard):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                if not expr or target.get("hide"):
                    continue
                queries.append(PanelQuery(uid, panel.get("title", ""), target.get("refId", ""), expr,
                                          substitute(expr, resolved)))
    return queries


if __name__ == "__main__":  # print them: python -m tests.grafana_queries
    for query in dashboard_queries():
        print(query)
