// Draws the timeline of the trace in #trace-data: a lane per actor with
// each activation, arrows for data flows, failures in red; click shows the
// causal chain. Only what is in view is drawn, binned when dense.
window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MAX_ACTS = 2500, MAX_ARROWS = 1500, LABEL = 110, LANE = 36, TOP = 22;
  var D = JSON.parse(document.getElementById("trace-data").textContent);
  var svg = document.getElementById("timeline");
  var detail = document.getElementById("detail");
  var span = Math.max(D.span, 1);
  var v0 = 0, v1 = span, selected = null, hl = null;
  // Acts by event index, to map a causal chain onto what is drawn.
  var actOf = {};
  D.acts.forEach(function (a, i) { actOf[a[4]] = i; actOf[a[5]] = i; });

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(ns) {
    if (ns < 1e3) return Math.round(ns) + "ns";
    if (ns < 1e6) return (ns / 1e3).toPrecision(3) + "µs";
    if (ns < 1e9) return (ns / 1e6).toPrecision(3) + "ms";
    return (ns / 1e9).toPrecision(3) + "s";
  }
  function width() { return Math.max(svg.clientWidth || svg.getBoundingClientRect().width || 1000, 300); }
  function x(t, w) { return LABEL + (t - v0) / (v1 - v0) * (w - LABEL - 8); }
  function laneY(a) { return TOP + a * LANE; }

  // The causes of event i: its parent chain and dependency chains.
  function causes(i) {
    var seen = {}, stack = [i];
    while (stack.length) {
      var j = stack.pop();
      if (j < 0 || seen[j]) continue;
      seen[j] = true;
      stack.push(D.ev[j][3]);
      (D.chain[j] || []).forEach(function (k) { stack.push(k); });
    }
    return seen;
  }

  function draw() {
    var w = width();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    el("defs", {}, svg).innerHTML = '<marker id="ah" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L6,3L0,6z" fill="#8a96a3"/></marker>';
    for (var g = 0; g <= 10; g++) {
      var gx = LABEL + g * (w - LABEL - 8) / 10;
      el("line", { "class": "grid", x1: gx, x2: gx, y1: TOP - 4, y2: TOP + D.actors.length * LANE }, svg);
      el("text", { x: gx, y: 12, "text-anchor": g ? (g === 10 ? "end" : "middle") : "start" }, svg).textContent = "+" + fmt(v0 + g * (v1 - v0) / 10);
    }
    D.actors.forEach(function (name, a) {
      el("rect", { "class": "lane", x: LABEL, y: laneY(a) + 4, width: w - LABEL - 8, height: LANE - 8 }, svg);
      el("text", { x: 4, y: laneY(a) + LANE / 2 + 4 }, svg).textContent = name;
    });
    var visible = [];
    for (var i = 0; i < D.acts.length; i++) {
      var a = D.acts[i];
      if (a[1] <= v1 && a[1] + a[2] >= v0) visible.push(i);
    }
    var drawn = 0, binned = visible.length > MAX_ACTS;
    var acts = el("g", { "class": "acts" }, svg);
    if (binned) {
      // One rect per actor and pixel column holding any activation; failed
      // ones are still drawn one by one.
      var cols = {};
      visible.forEach(function (i) {
        var a = D.acts[i];
        if (a[3]) return;
        var c0 = Math.floor(x(Math.max(a[1], v0), w) / 2), c1 = Math.floor(x(Math.min(a[1] + a[2], v1), w) / 2);
        for (var c = c0; c <= c1; c++) cols[a[0] + ":" + c] = true;
      });
      for (var key in cols) {
        var p = key.split(":");
        el("rect", { "class": "bin", x: p[1] * 2, y: laneY(+p[0]) + 8, width: 2, height: LANE - 16 }, acts);
      }
    }
    visible.forEach(function (i) {
      var a = D.acts[i];
      if (binned && !a[3]) return;
      var x0 = x(Math.max(a[1], v0), w), x1 = x(Math.min(a[1] + a[2], v1), w);
      var cls = "act" + (a[3] ? " failed" : "");
      if (hl) cls += hl.acts[i] ? " hl" : " dim";
      if (i === selected) cls += " sel";
      var r = el("rect", { "class": cls, x: x0, y: laneY(a[0]) + 8, width: Math.max(x1 - x0, 1.5), height: LANE - 16, "data-act": i }, acts);
      var msg = D.msg[a[5]];
      el("title", {}, r).textContent = D.actors[a[0]] + " " + fmt(a[2]) + (msg ? " — failed: " + msg : "");
      drawn++;
    });
    var flows = [];
    for (var f = 0; f < D.flows.length; f++) if (D.flows[f][2] >= v0 && D.flows[f][2] <= v1) flows.push(f);
    var arrows = 0, ag = el("g", { "class": "arrows" }, svg);
    if (flows.length <= MAX_ARROWS) {
      flows.forEach(function (f) {
        var fl = D.flows[f], fx = x(fl[2], w), y0 = laneY(fl[0]) + LANE / 2, y1 = laneY(fl[1]) + LANE / 2;
        var cls = "arrow" + (fl[4] ? " failed" : "");
        if (hl) cls += hl.events[fl[3]] ? " hl" : " dim";
        var ln = el("line", { "class": cls, x1: fx, y1: y0 + (y1 > y0 ? 8 : -8), x2: fx + 6, y2: y1 + (y1 > y0 ? -8 : 8), "marker-end": "url(#ah)", "data-event": fl[3] }, ag);
        el("title", {}, ln).textContent = D.actors[fl[0]] + " → " + D.actors[fl[1]] + " at +" + fmt(fl[2]) + (fl[4] ? " — failed: " + (D.msg[fl[3]] || "") : "");
        arrows++;
      });
    }
    document.getElementById("range").textContent = "+" + fmt(v0) + " … +" + fmt(v1) + " · " + visible.length + " activations" +
      (binned ? " (binned)" : "") + " · " + flows.length + " flows" + (flows.length > MAX_ARROWS ? " (zoom in for arrows)" : "");
    document.body.setAttribute("data-acts", drawn);
    document.body.setAttribute("data-arrows", arrows);
  }

  function select(eventIdx, act) {
    selected = act;
    var ev = causes(eventIdx), acts = {};
    for (var j in ev) if (actOf[j] !== undefined) acts[actOf[j]] = true;
    if (act !== null) acts[act] = true;
    hl = { events: ev, acts: acts };
    var list = Object.keys(ev).map(Number).sort(function (a, b) { return D.ev[a][2] - D.ev[b][2]; });
    var html = "<b>Causal chain</b> of <code>" + D.ids[eventIdx] + "</code> (" + list.length + " events, oldest first)<ol>";
    list.forEach(function (j) {
      var e = D.ev[j], to = D.to[j];
      html += "<li" + (D.msg[j] ? ' class="fail"' : "") + "><code>+" + fmt(e[2]) + "</code> " + esc(D.kinds[e[0]]) +
        (to ? " → " + esc(to[0]) : "") + " <b>" + esc(D.actors[e[1]]) + "</b>" + (D.msg[j] ? ": " + esc(D.msg[j]) : "") + "</li>";
    });
    detail.innerHTML = html + "</ol>";
    draw();
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  function zoom(f, at) {
    var t = at === undefined ? (v0 + v1) / 2 : at, n = Math.max((v1 - v0) * f, 1e3);
    v0 = Math.max(0, t - (t - v0) * n / (v1 - v0));
    v1 = Math.min(span, v0 + n);
    v0 = Math.max(0, v1 - n);
    draw();
  }
  function timeAt(clientX) {
    var r = svg.getBoundingClientRect(), w = width();
    return v0 + (clientX - r.left - LABEL) / (w - LABEL - 8) * (v1 - v0);
  }
  svg.addEventListener("wheel", function (e) { e.preventDefault(); zoom(e.deltaY < 0 ? 0.7 : 1 / 0.7, timeAt(e.clientX)); }, { passive: false });
  var drag = null, moved = false;
  svg.addEventListener("mousedown", function (e) { drag = { x: e.clientX, v0: v0, v1: v1 }; moved = false; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dt = (e.clientX - drag.x) / (width() - LABEL - 8) * (drag.v1 - drag.v0);
    if (Math.abs(e.clientX - drag.x) > 3) moved = true;
    var n = drag.v1 - drag.v0;
    v0 = Math.min(Math.max(0, drag.v0 - dt), span - n);
    v1 = v0 + n;
    draw();
  });
  svg.addEventListener("click", function (e) {
    if (moved) return;
    var t = e.target;
    if (t.hasAttribute("data-act")) { var i = +t.getAttribute("data-act"); select(D.acts[i][5], i); }
    else if (t.hasAttribute("data-event")) select(+t.getAttribute("data-event"), null);
    else { hl = null; selected = null; detail.textContent = "Nothing selected."; draw(); }
  });
  document.getElementById("zoom-in").onclick = function () { zoom(0.5); };
  document.getElementById("zoom-out").onclick = function () { zoom(2); };
  document.getElementById("reset").onclick = function () { v0 = 0; v1 = span; draw(); };
  var ov = document.getElementById("overview");
  if (ov) ov.addEventListener("click", function (e) {
    var r = ov.getBoundingClientRect(), vb = ov.viewBox.baseVal, px = (e.clientX - r.left) * vb.width / r.width;
    var t = (px - LABEL) / (vb.width - LABEL) * span, n = span / 20;
    v0 = Math.max(0, Math.min(t - n / 2, span - n)); v1 = v0 + n; draw();
  });
  document.querySelectorAll("#failures li").forEach(function (li) {
    li.style.cursor = "pointer";
    li.onclick = function () {
      var i = +li.getAttribute("data-event"), t = D.ev[i][2], n = Math.min(span, Math.max((v1 - v0), 1e6));
      n = Math.min(n, span / 10 || span);
      v0 = Math.max(0, t - n / 2); v1 = Math.min(span, v0 + n);
      select(i, actOf[i] === undefined ? null : actOf[i]);
      svg.scrollIntoView({ block: "center" });
    };
  });
  window.addEventListener("resize", draw);
  draw();
  // #failure opens the page on the first failure's causal chain.
  if (location.hash === "#failure") {
    var first = document.querySelector("#failures li");
    if (first) first.onclick();
  }
  document.body.setAttribute("data-rendered", "ok");
})();
