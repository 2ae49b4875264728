"""The report's constant CSS and its one script (tooltips), inlined in every page.

The script only moves a tooltip and sets its ``textContent`` from ``data-tip``: it never
builds markup from data, and it makes no request. Pages allow exactly this script by its
hash in their Content-Security-Policy, so even a value that escaped escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib

from podium.report.markup import Markup

STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "cached": "#00838f",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "cancelled": "#8e24aa",
    "running": "#1565c0",
    "pending": "#cfd8dc",
    # circuit breakers
    "closed": "#2e7d32",
    "open": "#c62828",
    "half_open": "#ef6c00",
    "defined": "#eceff1",
}

_STATUS_CSS = "\n".join(
    f".status-{name} .bar, .node.status-{name} rect {{ fill: {colour}; }}\n"
    f".badge.status-{name} {{ background: {colour}; }}"
    for name, colour in STATUS_COLOURS.items()
)

#: What the graph and the timeline need to look right, also inside a standalone SVG file.
SVG_CSS = Markup(
    """
svg { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
svg text { fill: #263238; }
.axis line { stroke: #eceff1; }
.axis text { fill: #78909c; font-size: 11px; }
.slo line { stroke: #ef6c00; stroke-dasharray: 4 3; stroke-width: 1.5; }
.slo text { fill: #ef6c00; font-size: 11px; }
.visit .bar { stroke: none; }
.visit.status-skipped .bar { fill: url(#hatch); stroke: #9e9e9e; }
.visit.status-running .bar { fill-opacity: .75; }
.visit.critical .bar { stroke: #ff6f00; stroke-width: 5; paint-order: stroke; }
.visit.critical .label { font-weight: 700; }
.visit:hover .bar, .visit:focus .bar { filter: brightness(1.15); }
.visit .glyph { font-size: 12px; }
.retry-mark { fill: #f9a825; stroke: #f57f17; stroke-width: 2; }
.loop-link { fill: none; stroke: #6d4c41; stroke-dasharray: 2 2; }
.node rect { stroke: #455a64; stroke-width: 1; }
.node.status-defined rect, .node.status-pending rect { stroke: #90a4ae; }
.node text { font-size: 12px; }
.node.status-succeeded text, .node.status-cached text, .node.status-failed text,
.node.status-cancelled text, .node.status-running text { fill: #fff; }
.node .count { font-size: 10px; }
.node rect.inner { fill: none; stroke: #eceff1; stroke-width: 1; }
.edge path { fill: none; stroke: #607d8b; stroke-width: 1.5; }
.edge.needs_any path { stroke-dasharray: 5 3; }
.edge.loop path { stroke: #6d4c41; stroke-dasharray: 2 3; }
.edge.taken path { stroke: #1b5e20; stroke-width: 3; }
.edge.loop.taken path { stroke: #6d4c41; stroke-width: 2.5; }
.edge.not-taken path { stroke: #cfd8dc; }
.edge-label { fill: #6d4c41; font-size: 10px; }
.arrowhead { fill: #607d8b; }
"""
    + _STATUS_CSS
)

PAGE_CSS = Markup(
    """
:root { color-scheme: light; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #263238; background: #f5f7f8; }
header.top { background: #263238; color: #eceff1; padding: 10px 24px; display: flex; gap: 24px;
             align-items: baseline; }
header.top a { color: #eceff1; text-decoration: none; font-weight: 600; }
header.top nav a { font-weight: 400; margin-right: 16px; opacity: .85; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #546e7a; }
.meta.reason { margin-bottom: 10px; }
.badge { display: inline-block; color: #fff; border-radius: 10px; padding: 1px 9px; font-size: 12px;
         font-weight: 600; vertical-align: middle; }
section.card { background: #fff; border: 1px solid #e0e6e9; border-radius: 8px; padding: 12px 16px;
               margin: 12px 0; overflow-x: auto; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.kpi { background: #fff; border: 1px solid #e0e6e9; border-radius: 8px; padding: 10px 12px; }
.kpi .name { color: #607d8b; font-size: 12px; }
.kpi .value { font-size: 20px; font-weight: 650; }
.kpi .target { color: #78909c; font-size: 12px; }
.kpi.ok { border-left: 4px solid #2e7d32; }
.kpi.breach { border-left: 4px solid #c62828; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff1; vertical-align: top; }
th { color: #546e7a; font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 650; border-top: 2px solid #cfd8dc; }
.error-message { white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace;
                 background: #fff5f5; border-left: 3px solid #c62828; padding: 6px 10px; margin: 4px 0 10px; }
.legend span { margin-right: 14px; font-size: 12px; color: #546e7a; }
.legend i { display: inline-block; width: 12px; height: 10px; border-radius: 2px; margin-right: 4px;
            vertical-align: baseline; }
.legend i.critical { background: #fff; border: 2px solid #ff6f00; }
.empty { color: #78909c; font-style: italic; }
code.value { white-space: pre-wrap; word-break: break-word; font-size: 12px; }
#tip { position: fixed; pointer-events: none; background: #263238; color: #fff; padding: 6px 9px;
       border-radius: 5px; font-size: 12px; white-space: pre-line; max-width: 420px; display: none;
       z-index: 10; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
form.filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: end; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #546e7a; }
form.filters input, form.filters select, form.filters button { font: inherit; padding: 3px 6px; }
.live { color: #1565c0; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
"""
    + SVG_CSS
)

TOOLTIP_JS = Markup(
    """
(function () {
  var tip = document.getElementById("tip");
  if (!tip) { return; }
  function show(event) {
    var target = event.target.closest ? event.target.closest("[data-tip]") : null;
    if (!target) { tip.style.display = "none"; return; }
    tip.textContent = target.getAttribute("data-tip");
    tip.style.display = "block";
    var x = event.clientX + 14, y = event.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) { x = event.clientX - tip.offsetWidth - 10; }
    if (y + tip.offsetHeight > window.innerHeight) { y = event.clientY - tip.offsetHeight - 10; }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  document.addEventListener("mousemove", show);
  document.addEventListener("mouseleave", function () { tip.style.display = "none"; });
})();
"""
)


def script_hash(script: str) -> str:
    """The CSP source allowing exactly ``script`` inline (``'sha256-...'``)."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(*scripts: str, connect_self: bool = False) -> str:
    """Nothing from anywhere: inline styles, images as data, and only the given scripts."""
    sources = " ".join(script_hash(s) for s in scripts) or "'none'"
    connect = "'self'" if connect_self else "'none'"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {sources}; "
        f"connect-src {connect}; base-uri 'none'; form-action 'self'"
    )
