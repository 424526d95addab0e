/* crux's charts: small SVG charts drawn from JSON in <script type="application/json">.
 * No library, no network. Text goes in with textContent, links with setAttribute: the data
 * (titles, authors, sentences) is never parsed as HTML. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var RED = "#c0392b", GREEN = "#2e8b57", GREY = "#999", BLUE = "#1f5fa8";

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]); }
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, attrs) {
    var t = el("text", Object.assign({x: x, y: y}, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  function tip(node, s) { var t = el("title", {}, node); t.textContent = s; }
  function svg(container, w, h) {
    return el("svg", {viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img"}, container);
  }
  function empty(container, msg) {
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = msg;
    container.appendChild(p);
  }
  function time(s) { if (!s) return NaN; return Date.parse(String(s).slice(0, 10) + "T00:00:00Z"); }
  function docUrl(id) { return "/doc/" + encodeURIComponent(id); }
  function relColor(r) { return (r === "rebuts" || r === "attacks") ? RED : (r === "supports" ? GREEN : GREY); }

  function yearTicks(x0, x1) {
    var y0 = new Date(x0).getUTCFullYear(), y1 = new Date(x1).getUTCFullYear() + 1, out = [];
    var step = Math.max(1, Math.ceil((y1 - y0) / 10));
    for (var y = y0; y <= y1; y += step) out.push([Date.UTC(y, 0, 1), String(y)]);
    return out;
  }

  var charts = {};

  charts.forecasts = function (c, data) {
    var pts = data.filter(function (d) {
      return d.horizon && !isNaN(time(d.horizon)) && (d.p !== null || d.low !== null);
    });
    if (!pts.length) return empty(c, "No forecast has both a probability and a horizon.");
    var W = 860, H = 320, m = {l: 48, r: 16, t: 12, b: 32};
    var s = svg(c, W, H);
    var xs = pts.map(function (d) { return time(d.horizon); });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    x0 = Date.UTC(new Date(x0).getUTCFullYear(), 0, 1); x1 = Date.UTC(new Date(x1).getUTCFullYear() + 1, 0, 1);
    function X(t) { return m.l + (t - x0) / (x1 - x0) * (W - m.l - m.r); }
    function Y(p) { return m.t + (1 - p) * (H - m.t - m.b); }
    var g = el("g", {"class": "grid"}, s);
    [0, .25, .5, .75, 1].forEach(function (p) {
      el("line", {x1: m.l, x2: W - m.r, y1: Y(p), y2: Y(p)}, g);
      text(s, m.l - 6, Y(p) + 4, Math.round(p * 100) + "%", {"text-anchor": "end", fill: "#555"});
    });
    var ax = el("g", {"class": "axis"}, s);
    el("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, ax);
    yearTicks(x0, x1).forEach(function (t) {
      if (t[0] < x0 || t[0] > x1) return;
      el("line", {x1: X(t[0]), x2: X(t[0]), y1: H - m.b, y2: H - m.b + 5}, ax);
      text(s, X(t[0]), H - m.b + 17, t[1], {"text-anchor": "middle", fill: "#555"});
    });
    pts.forEach(function (d, i) {
      var x = X(time(d.horizon)) + ((i % 5) - 2) * 3;
      var a = el("a", {href: docUrl(d.doc)}, s);
      if (d.low !== null && d.high !== null) {
        el("line", {x1: x, x2: x, y1: Y(d.low), y2: Y(d.high), stroke: BLUE, "stroke-width": 3,
                    "stroke-opacity": .5, "stroke-linecap": "round"}, a);
      }
      var p = d.p !== null ? d.p : (d.low + (d.high !== null ? d.high : d.low)) / 2;
      var dot = el("circle", {cx: x, cy: Y(p), r: 6, fill: BLUE, "fill-opacity": .75, stroke: "#fff",
                              "class": "forecast-point"}, a);
      tip(dot, Math.round(p * 100) + "% by " + String(d.horizon).slice(0, 10) + " — " + d.label);
    });
  };

  charts.bars = function (c, data) {
    if (!data.length) return empty(c, "No words for this topic.");
    var W = 420, row = 20, m = {l: 110, r: 40, t: 4}, H = m.t + row * data.length + 4;
    var s = svg(c, W, H);
    var max = Math.max.apply(null, data.map(function (d) { return d.value || 0; })) || 1;
    data.forEach(function (d, i) {
      var y = m.t + i * row;
      text(s, m.l - 6, y + 14, d.label, {"text-anchor": "end", fill: "#333"});
      var w = Math.max(1, (d.value || 0) / max * (W - m.l - m.r));
      var r = el("rect", {x: m.l, y: y + 3, width: w, height: row - 6, fill: BLUE, "fill-opacity": .7,
                          "class": "bar"}, s);
      tip(r, d.label + ": " + (d.value || 0).toFixed(3));
      text(s, m.l + w + 4, y + 14, (d.value || 0).toFixed(3), {fill: "#777"});
    });
  };

  charts.timeline = function (c, data) {
    if (!data.length) return empty(c, "No dated items.");
    var W = 420, H = 220, m = {l: 32, r: 8, t: 10, b: 40};
    var s = svg(c, W, H);
    var max = Math.max.apply(null, data.map(function (d) { return d.count || 0; })) || 1;
    var bw = (W - m.l - m.r) / data.length;
    function Y(v) { return m.t + (1 - v / max) * (H - m.t - m.b); }
    var ax = el("g", {"class": "axis"}, s);
    el("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, ax);
    text(s, m.l - 4, Y(max) + 4, String(max), {"text-anchor": "end", fill: "#555"});
    text(s, m.l - 4, Y(0) + 4, "0", {"text-anchor": "end", fill: "#555"});
    var every = Math.ceil(data.length / 8);
    data.forEach(function (d, i) {
      var x = m.l + i * bw;
      if (d.count === null) {  // the corpus has nothing from this period: a gap, not a zero
        var g = el("rect", {x: x + 1, y: m.t, width: Math.max(1, bw - 2), height: H - m.b - m.t,
                            fill: "#eee", "class": "gap"}, s);
        tip(g, d.period + ": not in the corpus");
      } else {
        var r = el("rect", {x: x + 1, y: Y(d.count), width: Math.max(1, bw - 2), height: H - m.b - Y(d.count),
                            fill: BLUE, "fill-opacity": .7, "class": "bar"}, s);
        tip(r, d.period + ": " + d.count);
      }
      if (i % every === 0) {
        text(s, x + bw / 2, H - m.b + 14, d.period, {"text-anchor": "middle", fill: "#555"});
      }
    });
  };

  charts.debate = function (c, data) {
    var nodes = data.nodes || [], edges = data.edges || [];
    if (!nodes.length) return empty(c, "Nothing to draw.");
    var W = 860, lanes = Math.min(6, Math.max(2, Math.ceil(nodes.length / 4))), m = {l: 20, r: 20, t: 20, b: 36};
    var H = m.t + m.b + lanes * 56;
    var s = svg(c, W, H);
    var defs = el("defs", {}, s);
    [["r", RED], ["g", GREEN], ["n", GREY]].forEach(function (k) {
      var mk = el("marker", {id: "arrow-" + k[0], viewBox: "0 0 10 10", refX: 16, refY: 5,
                             markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, defs);
      el("path", {d: "M0,0 L10,5 L0,10 z", fill: k[1]}, mk);
    });
    var sorted = nodes.slice().sort(function (a, b) { return (a.date || "") < (b.date || "") ? -1 : 1; });
    var pos = {}, step = (W - m.l - m.r) / Math.max(1, sorted.length - 1 || 1);
    sorted.forEach(function (n, i) {
      var x = sorted.length === 1 ? W / 2 : m.l + 10 + i * (W - m.l - m.r - 20) / (sorted.length - 1);
      pos[n.id] = [x, m.t + 20 + (i % lanes) * 56];
    });
    edges.forEach(function (e) {
      var a = pos[e.source], b = pos[e.target];
      if (!a || !b) return;
      var col = relColor(e.relation), k = col === RED ? "r" : (col === GREEN ? "g" : "n");
      var mx = (a[0] + b[0]) / 2, my = Math.min(a[1], b[1]) - 30;
      var p = el("path", {d: "M" + a[0] + "," + a[1] + " Q" + mx + "," + my + " " + b[0] + "," + b[1],
                          fill: "none", stroke: col, "stroke-width": 2, "stroke-opacity": .8,
                          "marker-end": "url(#arrow-" + k + ")", "class": "edge"}, s);
      tip(p, (e.source_title || e.source) + " " + e.relation + " " + (e.target_title || e.target));
    });
    sorted.forEach(function (n) {
      var p = pos[n.id];
      var outside = n.kind === "outside";
      var a = outside ? el("g", {}, s) : el("a", {href: docUrl(n.id)}, s);
      var circ = outside
        ? el("rect", {x: p[0] - 8, y: p[1] - 8, width: 16, height: 16, fill: "#fff", stroke: "#333",
                      "stroke-width": 1.5, "class": "node outside"}, a)
        : el("circle", {cx: p[0], cy: p[1], r: n.kind === "comment" ? 6 : 9,
                        fill: n.root ? "#ffd23f" : (n.kind === "comment" ? "#bbb" : BLUE),
                        stroke: "#333", "stroke-width": 1, "class": "node"}, a);
      tip(circ, (n.title || "") + (n.author ? " — " + n.author : "") + (n.date ? " (" + String(n.date).slice(0, 10) + ")" : ""));
      var label = outside ? String(n.title || "").slice(0, 40) : (n.author || "").split(" ").slice(-1)[0];
      var anchor = !outside ? "middle" : (p[0] < W / 2 ? "start" : "end");
      text(a, outside ? p[0] + (anchor === "start" ? -8 : 8) : p[0], p[1] + 22, label,
           {"text-anchor": anchor, fill: "#333"});
    });
    var ds = sorted.map(function (n) { return n.date; }).filter(Boolean);
    if (ds.length) {
      text(s, m.l, H - 8, String(ds[0]).slice(0, 10), {fill: "#777"});
      text(s, W - m.r, H - 8, String(ds[ds.length - 1]).slice(0, 10), {fill: "#777", "text-anchor": "end"});
    }
  };

  function draw() {
    var nodes = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var c = nodes[i], kind = c.getAttribute("data-chart");
      var src = document.getElementById(c.getAttribute("data-source"));
      if (!src || !charts[kind]) continue;
      var data;
      try { data = JSON.parse(src.textContent); } catch (err) { empty(c, "Chart data could not be read."); continue; }
      charts[kind](c, data);
      c.setAttribute("data-drawn", "1");
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
