"""``report.html`` of a study: one self-contained page (plotly.js inlined, no network) with the
Pareto front to explore (hover a point: its parameters and metrics; click it: its per-layer
breakdown below), the front's 2-D projections, stacked energy (by memory level and tensor) and
latency (compute, fill/drain, stalls, pipeline) per layer, a roofline of every layer and the
predicted against measured cycles of the verification.

Every number is one of the study's files (`codesign.report.study`), in another unit (pJ shown
as uJ) or as a ratio of two of them (the roofline's MACs per byte and MACs per cycle). plotly
(the ``report`` extra) is imported inside the functions.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from codesign.report.study import Study
from codesign.validation import write_text_file

__all__ = [
    "front_figure",
    "projections_figure",
    "energy_figure",
    "latency_figure",
    "roofline_figure",
    "verify_figure",
    "render_html",
    "write_html",
]

_FRONT, _KNEE_COLOUR, _GREY = "#1f77b4", "#d62728", "#bbbbbb"


def _go():
    import plotly.graph_objects as go

    return go


def _fmt(v: object) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:.5g}"


def _hover(point: dict) -> str:
    params = "<br>".join(f"{k} = {_fmt(v)}" for k, v in point["params"].items())
    metrics = "<br>".join(f"{k} = {_fmt(v)}" for k, v in sorted(point["metrics"].items()))
    extra = "".join(f"<br>{k}: {point[k]}" for k in ("build", "clock") if k in point)
    return f"<b>parameters</b><br>{params}<br><b>metrics</b><br>{metrics}{extra}"


def _axis_type(values: Sequence[float]) -> str:
    vals = [v for v in values if v is not None]
    return "log" if vals and min(vals) > 0 and max(vals) / min(vals) > 100 else "linear"


def front_figure(study: Study):
    """Every evaluated point (grey) and the front (coloured by the third objective, if any)
    over the first two objectives; the knee is a star. A front point's ``customdata`` is its
    index in ``study.front`` (what a click selects)."""
    go = _go()
    (_, mx, _), (_, my, _) = study.objectives[0], study.objectives[1]
    shown = [p for p in study.points if mx in p["metrics"] and my in p["metrics"]]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[p["metrics"][mx] for p in shown],
            y=[p["metrics"][my] for p in shown],
            mode="markers",
            name="evaluated",
            marker={"color": _GREY, "size": 6},
            hovertext=[_hover(p) for p in shown],
            hoverinfo="text",
        )
    )
    marker: dict = {"color": _FRONT, "size": 11, "line": {"width": 1, "color": "white"}}
    if len(study.objectives) >= 3:
        name3, m3, _ = study.objectives[2]
        marker.update(
            color=[p["metrics"].get(m3) for p in study.front],
            colorscale="Viridis",
            colorbar={"title": {"text": m3}},
        )
    fig.add_trace(
        go.Scatter(
            x=[p["metrics"][mx] for p in study.front],
            y=[p["metrics"][my] for p in study.front],
            mode="markers",
            name="Pareto front (click a point)",
            marker=marker,
            customdata=list(range(len(study.front))),
            hovertext=[_hover(p) for p in study.front],
            hoverinfo="text",
        )
    )
    if study.knee is not None:
        k = study.front[study.knee]
        fig.add_trace(
            go.Scatter(
                x=[k["metrics"][mx]],
                y=[k["metrics"][my]],
                mode="markers",
                name="knee (best.json)",
                marker={"color": _KNEE_COLOUR, "size": 18, "symbol": "star"},
                customdata=[study.knee],
                hovertext=[_hover(k)],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=f"Pareto front: {len(study.front)} of {len(study.points)} evaluated points",
        xaxis={"title": {"text": mx}, "type": _axis_type([p["metrics"][mx] for p in shown])},
        yaxis={"title": {"text": my}, "type": _axis_type([p["metrics"][my] for p in shown])},
        hovermode="closest",
        height=520,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def projections_figure(study: Study):
    """The front in every 2-D projection of the objectives (one panel per pair; evaluated
    points grey), or None with fewer than three objectives. SVG, not WebGL: it renders
    without a GPU."""
    if len(study.objectives) < 3:
        return None
    import itertools

    from plotly.subplots import make_subplots

    go = _go()
    metrics = [m for _, m, _ in study.objectives]
    pairs = list(itertools.combinations(metrics, 2))
    cols = 3
    rows = -(-len(pairs) // cols)
    shown = [p for p in study.points if all(m in p["metrics"] for m in metrics)]
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.08, vertical_spacing=0.14)
    for i, (mx, my) in enumerate(pairs):
        r, c = i // cols + 1, i % cols + 1
        for points, colour, size, name in (
            (shown, _GREY, 5, "evaluated"),
            (study.front, _FRONT, 8, "Pareto front"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=[p["metrics"][mx] for p in points],
                    y=[p["metrics"][my] for p in points],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    marker={"color": colour, "size": size},
                    hovertext=[_hover(p) for p in points],
                    hoverinfo="text",
                ),
                row=r,
                col=c,
            )
        fig.update_xaxes(title_text=mx, type=_axis_type([p["metrics"][mx] for p in shown]),
                         row=r, col=c)  # fmt: skip
        fig.update_yaxes(title_text=my, type=_axis_type([p["metrics"][my] for p in shown]),
                         row=r, col=c)  # fmt: skip
    fig.update_layout(
        title=f"The front in the {len(pairs)} 2-D projections of its {len(metrics)} objectives",
        height=330 * rows + 80,
        hovermode="closest",
    )
    return fig


def _shown_layers(breakdown: dict) -> list[dict]:
    """The layers that cost something on the design: MAC layers and vector-unit operators (the
    host's are listed in the tables, not costed)."""
    return [lay for lay in breakdown["layers"] if lay["unit"] != "host"]


def energy_figure(breakdown: dict, title: str):
    """Stacked bars per layer: energy (uJ) of every memory level and tensor, of the MACs and,
    for the non-MAC operators, of the vector unit."""
    go = _go()
    layers = _shown_layers(breakdown)
    names = [lay["name"] for lay in layers]
    levels = [lv["name"] for lv in breakdown["arch"]["levels"]]
    fig = go.Figure()
    for lv in levels:
        for tensor in ("inputs", "weights", "outputs"):
            y = [lay.get("energy_by_level_pj", {}).get(lv, {}).get(tensor, 0.0) for lay in layers]
            if any(y):
                fig.add_trace(go.Bar(x=names, y=[v * 1e-6 for v in y], name=f"{lv} {tensor}"))
    fig.add_trace(
        go.Bar(x=names, y=[lay.get("mac_energy_pj", 0.0) * 1e-6 for lay in layers], name="MACs")
    )
    vector = [lay["energy_pj"] * 1e-6 if lay["kind"] != "mac" else 0.0 for lay in layers]
    if any(vector):
        fig.add_trace(go.Bar(x=names, y=vector, name="vector unit"))
    fig.update_layout(
        barmode="stack", title=title, yaxis={"title": {"text": "energy (uJ)"}}, height=420
    )
    return fig


def latency_figure(breakdown: dict, title: str):
    """Stacked bars per layer: compute, fill/drain, stall and pipeline cycles (MAC layers),
    vector-unit cycles (non-MAC operators); diamonds at each MAC layer's lower bound."""
    go = _go()
    layers = _shown_layers(breakdown)
    names = [lay["name"] for lay in layers]
    fig = go.Figure()
    parts = (
        ("compute_cycles", "compute"),
        ("fill_drain_cycles", "fill/drain"),
        ("stall_cycles", "stall (bandwidth)"),
        ("pipeline_cycles", "pipeline"),
    )
    for key, label in parts:
        y = [lay.get(key, 0) for lay in layers]
        if any(y):
            fig.add_trace(go.Bar(x=names, y=y, name=label))
    vector = [lay["cycles"] if lay["kind"] != "mac" else 0 for lay in layers]
    if any(vector):
        fig.add_trace(go.Bar(x=names, y=vector, name="vector unit"))
    mac = [lay for lay in layers if lay["kind"] == "mac"]
    fig.add_trace(
        go.Scatter(
            x=[lay["name"] for lay in mac],
            y=[lay["min_cycles"] for lay in mac],
            mode="markers",
            name="lower bound (compute)",
            marker={"symbol": "diamond", "color": "black", "size": 9},
            hovertext=[
                f"{lay['name']}: lower bound {lay['min_cycles']:,} cycles, "
                f"{lay['cycles'] / lay['min_cycles']:.2f}x" for lay in mac
            ],
            hoverinfo="text",
        )
    )  # fmt: skip
    fig.update_layout(barmode="stack", title=title, yaxis={"title": {"text": "cycles"}}, height=420)
    return fig


def roofline_figure(breakdown: dict, title: str):
    """Every MAC layer on the design's roofline: MACs per cycle against MACs per byte of the
    outermost level's traffic, under the array's peak and the outermost level's read
    bandwidth."""
    go = _go()
    outer = breakdown["arch"]["levels"][-1]
    mac = [
        lay
        for lay in breakdown["layers"]
        if lay["kind"] == "mac" and lay["traffic_bits"][outer["name"]] > 0
    ]
    peak = breakdown["arch"]["peak_macs_per_cycle"]
    bw = outer["read_bits_per_cycle"] / 8
    x = [lay["macs"] / (lay["traffic_bits"][outer["name"]] / 8) for lay in mac]
    y = [lay["macs"] / lay["cycles"] for lay in mac]
    lo, hi = min(x + [peak / bw]) / 4, max(x + [peak / bw]) * 4
    ridge = peak / bw
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[lo, ridge, hi],
            y=[bw * lo, peak, peak],
            mode="lines",
            name=f"roof: {outer['name']} {outer['read_bits_per_cycle']} bits/cycle, "
            f"peak {peak} MACs/cycle",
            line={"color": "black"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers+text",
            text=[lay["name"] for lay in mac],
            textposition="top center",
            name="layers",
            marker={"size": 11, "color": _FRONT},
            hovertext=[
                f"{lay['name']}: {xi:.3g} MACs/byte, {yi:.3g} MACs/cycle "
                f"({yi / min(peak, bw * xi):.1%} of its roof; "
                f"{'compute' if bw * xi >= peak else 'bandwidth'} bound)"
                for lay, xi, yi in zip(mac, x, y, strict=True)
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"type": "log", "title": {"text": f"MACs per byte of {outer['name']} traffic"}},
        yaxis={"type": "log", "title": {"text": "MACs per cycle"}},
        height=460,
    )
    return fig


def verify_figure(path: str, data: dict):
    """Predicted (the explorer's) and measured (RTL) cycles per layer and for the whole
    network, the relative error above each pair."""
    go = _go()
    if "layers" in data:
        names = [lay["name"] for lay in data["layers"]] + ["whole network"]
        pred = [lay["cycles_predicted"] for lay in data["layers"]] + [
            data["cycles_predicted_total"]
        ]
        meas = [lay["cycles_measured"] for lay in data["layers"]] + [data["cycles_measured_total"]]
    else:
        names = [str(data.get("what", path))]
        pred, meas = [data["cycles_predicted"]], [data["cycles_measured"]]
    err = [f"{100 * (m - p) / p:+.2f} %" for p, m in zip(pred, meas, strict=True)]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=pred, name="predicted (cost model)"))
    fig.add_trace(go.Bar(x=names, y=meas, name="measured (RTL)", text=err, textposition="outside"))
    fig.update_layout(
        barmode="group",
        title=f"Predicted vs measured cycles: {data.get('what', path)} "
        f"({data.get('simulator', '?')})",
        yaxis={"title": {"text": "cycles"}, "type": _axis_type(pred + meas)},
        height=420,
    )
    return fig


def _table(rows: Sequence[tuple[object, object]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _point_html(study: Study, i: int) -> str:
    p = study.front[i]
    tag = " (the knee: best.json)" if i == study.knee else ""
    return (
        f"<h3>Pareto point {i}{html.escape(tag)}</h3><div class='pair'>"
        f"{_table(list(p['params'].items()))}{_table(sorted(p['metrics'].items()))}</div>"
    )


def _fig_json(fig) -> object:
    import plotly.io as pio

    return None if fig is None else json.loads(pio.to_json(fig, validate=False))


_STYLE = """
body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 1em .5em 0;vertical-align:top}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{text-align:left;background:#f4f4f4}
.pair{display:flex;flex-wrap:wrap;align-items:flex-start}.note{color:#555}
#errors{color:#b00}
"""

_HOOK = """
window.codesignErrors=[];
function codesignError(text){window.codesignErrors.push(text);
 var e=document.getElementById('errors');if(e){e.textContent=window.codesignErrors.join('\\n');}}
window.addEventListener('error',function(e){codesignError('error: '+e.message);});
window.addEventListener('unhandledrejection',function(e){codesignError('rejection: '+e.reason);});
var consoleError=console.error;
console.error=function(){codesignError('console.error: '+Array.prototype.join.call(arguments,' '));
 consoleError.apply(console,arguments);};
"""

_MAIN = """
var FIGS=JSON.parse(document.getElementById('figures').textContent);
var CONFIG={responsive:true,displaylogo:false};
function plot(id,fig){if(fig){Plotly.react(id,fig.data,fig.layout,CONFIG);}}
function show(i){var p=FIGS.points[i];if(!p){return;}
 document.getElementById('point').innerHTML=p.table;
 plot('energy',p.energy);plot('latency',p.latency);plot('roofline',p.roofline);
 document.getElementById('selected').textContent=String(i);}
plot('front',FIGS.front);plot('projections',FIGS.projections);
FIGS.verify.forEach(function(f,j){plot('verify'+j,f);});
document.getElementById('front').on('plotly_click',function(ev){
 var pt=ev.points[0];if(pt.customdata!==undefined){show(pt.customdata);}});
var m=/^#point=(\\d+)$/.exec(location.hash);
show(m?parseInt(m[1],10):FIGS.knee);
"""


def render_html(study: Study, *, title: str, appendix_html: str = "") -> str:
    """The page (see the module docstring); ``appendix_html`` is added at the end (the demo's
    tables)."""
    from plotly.offline import get_plotlyjs

    points = []
    for i in range(len(study.front)):
        entry: dict = {"table": _point_html(study, i)}
        if study.breakdowns:
            b = study.breakdowns[i]
            name = f"point {i}: {b['arch']['name']}"
            entry.update(
                energy=_fig_json(energy_figure(b, f"Energy per layer, {name}")),
                latency=_fig_json(latency_figure(b, f"Latency per layer, {name}")),
                roofline=_fig_json(roofline_figure(b, f"Roofline, {name}")),
            )
        points.append(entry)
    figs = {
        "front": _fig_json(front_figure(study)),
        "projections": _fig_json(projections_figure(study)),
        "verify": [_fig_json(verify_figure(p, d)) for p, d in study.verify],
        "points": points,
        "knee": study.knee if study.knee is not None else 0,
    }
    knee = study.front[study.knee] if study.knee is not None else None
    summary = [
        ("study", str(study.source)),
        ("model", study.model),
        ("objectives", ", ".join(f"{n} ({m}, {'min' if lo else 'max'})"
                                 for n, m, lo in study.objectives)),
        ("evaluated points", len(study.points)),
        ("Pareto points", len(study.front)),
        ("build", study.front[0].get("build", "-")),
        ("clock", study.front[0].get("clock", "not recorded")),
    ]  # fmt: skip
    if knee is not None:
        summary.append(("knee", ", ".join(f"{k}={_fmt(v)}" for k, v in knee["params"].items())))
    breakdown_note = (
        ""
        if study.breakdowns
        else "<p class='note'>No per-layer breakdowns: a store holds only each point's totals "
        "(report a study folder with its pareto_layers.json for them).</p>"
    )
    verify_divs = "".join(f"<div id='verify{j}'></div>" for j in range(len(study.verify)))
    verify_section = (
        f"<h2>Predicted vs measured</h2>{verify_divs}"
        if study.verify
        else "<p class='note'>No verification given (codesign report --verify verify.json).</p>"
    )
    data = json.dumps(figs, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_HOOK}</script><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><pre id='errors'></pre>{_table(summary)}"
        "<h2>Pareto front</h2><p class='note'>Hover a point for its parameters and metrics; "
        "click a front point for its per-layer breakdown below.</p>"
        "<div id='front'></div><div id='projections'></div>"
        "<h2>Per-layer breakdown of Pareto point <span id='selected'></span></h2>"
        f"{breakdown_note}<div id='point'></div><div id='energy'></div><div id='latency'></div>"
        f"<div id='roofline'></div>{verify_section}{appendix_html}"
        f"<script type='application/json' id='figures'>{data}</script>"
        f"<script>{_MAIN}</script></body></html>\n"
    )


def write_html(
    study: Study, path: str | Path, *, title: str | None = None, appendix_html: str = ""
) -> Path:
    """Write `render_html` of ``study`` to ``path``."""
    name = study.model.rpartition(":")[2] or str(study.source)
    title = title or f"codesign report: {name}"
    text = render_html(study, title=title, appendix_html=appendix_html)
    return write_text_file(path, text, "report")
