// Draws the trace in #trace-data: a lane per actor with each activation,
// arrows for data flows and a tick for every event (on a canvas, so that
// tens of thousands stay quick), failures in red; a list of every event,
// virtualised, filtered and sorted; clicking a tick, an activation, an
// arrow or a row shows the event and its causal chain. Only what is in
// view is drawn; activations are binned when dense.
window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MAX_ACTS = 2500, MAX_ARROWS = 1500, LABEL = 110, RIGHT = 8, TOP = 22;
  var D = JSON.parse(document.getElementById("trace-data").textContent);
  var LANE = D.lane || 44, BAR_Y = 6, BAR_H = 18, MARK_Y = 28, MARK_H = 10, ROW = 22;
  var N = D.ev.length;
  var svg = document.getElementById("timeline");
  var canvas = document.getElementById("marks");
  var detail = document.getElementById("detail");
  var span = Math.max(D.span, 1);
  var v0 = 0, v1 = span, selectedAct = null, selEvent = -1, hl = null;
  var FAILED = D.kinds.indexOf("ActorFailed");
  // Colours by kind; failures are red whatever their kind.
  var COLOR = {
    ActorCreated: "#b4bcc6", ActorStarted: "#8a96a3", ActorCompleted: "#8a96a3", ActorFailed: "#d32f2f",
    MessageSent: "#1b998b", MessageReceived: "#137a6f", StateChanged: "#7b4fb3", PortConnected: "#a07a2c",
    PortDisconnected: "#a07a2c", DataFlow: "#2f6fb3", NetworkEvent: "#c2185b", Custom: "#5d7a1e"
  };
  var RED = "#d32f2f";
  var FAIL = new Uint8Array(N);
  for (var f0 = 0; f0 < N; f0++) FAIL[f0] = D.ev[f0][0] === FAILED || D.msg[f0] !== undefined ? 1 : 0;
  function failed(i) { return FAIL[i] === 1; }
  // Acts by event index, to map a causal chain onto what is drawn; events
  // by actor (in time order, as the events are).
  var actOf = {};
  D.acts.forEach(function (a, i) { actOf[a[4]] = i; actOf[a[5]] = i; });
  var byActor = D.actors.map(function () { return []; });
  var kindCount = D.kinds.map(function () { return 0; }), failCount = 0;
  for (var i0 = 0; i0 < N; i0++) {
    byActor[D.ev[i0][1]].push(i0);
    kindCount[D.ev[i0][0]]++;
    if (failed(i0)) failCount++;
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function fmt(ns) {
    if (ns < 1e3) return Math.round(ns) + "ns";
    if (ns < 1e6) return (ns / 1e3).toPrecision(3) + "µs";
    if (ns < 1e9) return (ns / 1e6).toPrecision(3) + "ms";
    return (ns / 1e9).toPrecision(3) + "s";
  }
  function bytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toPrecision(3) + " KiB" : (n / 1048576).toPrecision(3) + " MiB"; }
  // The absolute time of offset t (ns), to the nanosecond.
  function absTime(t) {
    var ns = D.t0[1] + t, s = D.t0[0] + Math.floor(ns / 1e9);
    ns = String(ns % 1e9);
    return new Date(s * 1000).toISOString().replace(".000Z", "." + "000000000".slice(ns.length) + ns + "Z");
  }
  function str(k) { return k < 0 ? "" : D.str[k]; }
  function kindName(i) { return D.kinds[D.ev[i][0]]; }
  function where(i) {
    var to = D.to[i], port = str(D.x[i][1]);
    if (to) return (port ? port + " " : "") + "→ " + to[0] + ":" + to[1];
    var name = str(D.x[i][4]);
    return port + (name ? (port ? " · " : "") + name : "");
  }
  function message(i) {
    var x = D.x[i];
    if (x[3] < 0) return "";
    return (x[2] >= 0 ? D.str[x[2]] + " · " : "") + bytes(x[3]);
  }

  function width() { return Math.max(svg.clientWidth || svg.getBoundingClientRect().width || 1000, 300); }
  function x(t, w) { return LABEL + (t - v0) / (v1 - v0) * (w - LABEL - RIGHT); }
  function laneY(a) { return TOP + a * LANE; }
  function timeAt(clientX) {
    var r = svg.getBoundingClientRect(), w = width();
    return v0 + (clientX - r.left - LABEL) / (w - LABEL - RIGHT) * (v1 - v0);
  }

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
      var gx = LABEL + g * (w - LABEL - RIGHT) / 10;
      el("line", { "class": "grid", x1: gx, x2: gx, y1: TOP - 4, y2: TOP + D.actors.length * LANE }, svg);
      el("text", { x: gx, y: 12, "text-anchor": g ? (g === 10 ? "end" : "middle") : "start" }, svg).textContent = "+" + fmt(v0 + g * (v1 - v0) / 10);
    }
    D.actors.forEach(function (name, a) {
      el("text", { x: 4, y: laneY(a) + BAR_Y + BAR_H / 2 + 4 }, svg).textContent = name;
    });
    var visible = [];
    for (var i = 0; i < D.acts.length; i++) {
      var a = D.acts[i];
      if (a[1] <= v1 && a[1] + a[2] >= v0) visible.push(i);
    }
    var drawn = 0, binned = visible.length > MAX_ACTS;
    var acts = el("g", { "class": "acts" }, svg);
    visible.forEach(function (i) {
      var a = D.acts[i];
      if (binned && !a[3]) return;
      var x0 = x(Math.max(a[1], v0), w), x1 = x(Math.min(a[1] + a[2], v1), w);
      var cls = "act" + (a[3] ? " failed" : "");
      if (hl) cls += hl.acts[i] ? " hl" : " dim";
      if (i === selectedAct) cls += " sel";
      var r = el("rect", { "class": cls, x: x0, y: laneY(a[0]) + BAR_Y, width: Math.max(x1 - x0, 1.5), height: BAR_H, "data-act": i }, acts);
      var msg = D.msg[a[5]];
      el("title", {}, r).textContent = D.actors[a[0]] + " " + fmt(a[2]) + (msg ? " — failed: " + msg : "");
      drawn++;
    });
    var flows = [];
    for (var f = 0; f < D.flows.length; f++) if (D.flows[f][2] >= v0 && D.flows[f][2] <= v1) flows.push(f);
    var arrows = 0, ag = el("g", { "class": "arrows" }, svg);
    if (flows.length <= MAX_ARROWS) {
      flows.forEach(function (f) {
        var fl = D.flows[f], fx = x(fl[2], w), y0 = laneY(fl[0]) + BAR_Y + BAR_H / 2, y1 = laneY(fl[1]) + BAR_Y + BAR_H / 2;
        var cls = "arrow" + (fl[4] ? " failed" : ""), d = BAR_H / 2;
        if (hl) cls += hl.events[fl[3]] ? " hl" : " dim";
        var ln = el("line", { "class": cls, x1: fx, y1: y0 + (y1 > y0 ? d : -d), x2: fx + 6, y2: y1 + (y1 > y0 ? -d : d), "marker-end": "url(#ah)", "data-event": fl[3] }, ag);
        el("title", {}, ln).textContent = D.actors[fl[0]] + " → " + D.actors[fl[1]] + " at +" + fmt(fl[2]) + (fl[4] ? " — failed: " + (D.msg[fl[3]] || "") : "");
        arrows++;
      });
    }
    var marks = drawCanvas(w, binned ? visible : null);
    document.getElementById("range").textContent = "+" + fmt(v0) + " … +" + fmt(v1) + " · " + marks + " events · " + visible.length + " activations" +
      (binned ? " (binned)" : "") + " · " + flows.length + " flows" + (flows.length > MAX_ARROWS ? " (zoom in for arrows)" : "");
    document.body.setAttribute("data-acts", drawn);
    document.body.setAttribute("data-arrows", arrows);
    document.body.setAttribute("data-markers", marks);
  }

  // drawCanvas draws, under the SVG, each actor's lane, the binned
  // activations (bins: those in view when they are too many to draw one by
  // one; failed ones are drawn in the SVG still) and a tick for every event
  // in view on its actor's strip, failures taller and red on top. It
  // returns how many events it drew.
  function drawCanvas(w, bins) {
    var h = svg.clientHeight || +svg.getAttribute("height"), dpr = window.devicePixelRatio || 1;
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    for (var a = 0; a < D.actors.length; a++) {
      g.fillStyle = "#f5f6f8";
      g.fillRect(LABEL, laneY(a) + 2, w - LABEL - RIGHT, LANE - 4);
      g.fillStyle = "#e9ecef";
      g.fillRect(LABEL, laneY(a) + MARK_Y, w - LABEL - RIGHT, MARK_H);
    }
    if (bins) {
      // One 2px column per actor and column holding any activation.
      var cols = D.actors.map(function () { return new Uint8Array(Math.ceil(w / 2) + 1); });
      bins.forEach(function (i) {
        var ac = D.acts[i];
        if (ac[3]) return;
        var c0 = Math.floor(x(Math.max(ac[1], v0), w) / 2), c1 = Math.floor(x(Math.min(ac[1] + ac[2], v1), w) / 2);
        for (var c = Math.max(c0, 0); c <= c1 && c < cols[ac[0]].length; c++) cols[ac[0]][c] = 1;
      });
      g.fillStyle = "#4a87c7";
      g.globalAlpha = hl ? 0.18 : 1;
      cols.forEach(function (col, a) {
        for (var c = 0; c < col.length; c++) if (col[c]) g.fillRect(c * 2, laneY(a) + BAR_Y, 2, BAR_H);
      });
      g.globalAlpha = 1;
    }
    var k = (w - LABEL - RIGHT) / (v1 - v0), tw = Math.max(1, Math.min(3, k * span / N / 4));
    var lo = lowerBound(v0), hi = upperBound(v1), drawn = 0;
    // One pass per kind, so the fill style changes a dozen times, not per
    // event; failures last, over the rest.
    g.globalAlpha = hl ? 0.3 : 1;
    for (var kind = 0; kind < D.kinds.length; kind++) {
      if (!kindCount[kind]) continue;
      g.fillStyle = COLOR[D.kinds[kind]] || "#555";
      for (var i = lo; i < hi; i++) {
        var e = D.ev[i];
        if (e[0] === kind && !failed(i)) { g.fillRect(LABEL + (e[2] - v0) * k, laneY(e[1]) + MARK_Y + 1, tw, MARK_H - 2); drawn++; }
      }
    }
    g.fillStyle = RED;
    for (i = lo; i < hi; i++) {
      if (failed(i)) { g.fillRect(LABEL + (D.ev[i][2] - v0) * k - 0.5, laneY(D.ev[i][1]) + MARK_Y - 3, Math.max(tw, 2), MARK_H + 4); drawn++; }
    }
    g.globalAlpha = 1;
    if (hl) {
      g.fillStyle = "#f59f00";
      for (var j in hl.events) {
        var t = D.ev[j][2];
        if (t >= v0 && t <= v1) g.fillRect(LABEL + (t - v0) * k - 1, laneY(D.ev[j][1]) + MARK_Y - 1, 3, MARK_H + 2);
      }
    }
    if (selEvent >= 0 && D.ev[selEvent][2] >= v0 && D.ev[selEvent][2] <= v1) {
      var sx = LABEL + (D.ev[selEvent][2] - v0) * k, sy = laneY(D.ev[selEvent][1]) + MARK_Y;
      g.fillStyle = "#111";
      g.fillRect(sx - 1, sy - 3, 3, MARK_H + 6);
      g.beginPath();
      g.moveTo(sx - 5, sy + MARK_H + 9); g.lineTo(sx + 5.5, sy + MARK_H + 9); g.lineTo(sx + 0.5, sy + MARK_H + 3);
      g.fill();
    }
    return drawn;
  }
  // The first event at or after t, and the first after t (events are in
  // time order).
  function lowerBound(t) { var a = 0, b = N; while (a < b) { var m = (a + b) >> 1; if (D.ev[m][2] < t) a = m + 1; else b = m; } return a; }
  function upperBound(t) { var a = 0, b = N; while (a < b) { var m = (a + b) >> 1; if (D.ev[m][2] <= t) a = m + 1; else b = m; } return a; }

  // eventAt is the event whose tick is nearest the point, within 6px on
  // the lane under it, failures first; -1 if none.
  function eventAt(clientX, clientY) {
    var r = svg.getBoundingClientRect(), a = Math.floor((clientY - r.top - TOP) / LANE);
    if (a < 0 || a >= D.actors.length || clientX - r.left < LABEL) return -1;
    var w = width(), t = timeAt(clientX), px = (v1 - v0) / (w - LABEL - RIGHT);
    var list = byActor[a], lo = 0, hi = list.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (D.ev[list[m]][2] < t - 6 * px) lo = m + 1; else hi = m; }
    var best = -1, bestD = Infinity;
    for (var j = lo; j < list.length && D.ev[list[j]][2] <= t + 6 * px; j++) {
      var d = Math.abs(D.ev[list[j]][2] - t) / px - (failed(list[j]) ? 3 : 0);
      if (d < bestD) { bestD = d; best = list[j]; }
    }
    return best;
  }

  // The details of event i and its causal chain.
  function describe(i) {
    var e = D.ev[i], x = D.x[i], trs = [];
    function row(k, v, cls) { trs.push("<tr" + (cls ? ' class="' + cls + '"' : "") + "><th>" + esc(k) + "</th><td>" + v + "</td></tr>"); }
    row("time", "+" + fmt(e[2]) + " · <code>" + absTime(e[2]) + "</code>");
    row("event id", "<code>" + esc(D.ids[i]) + "</code>");
    if (str(x[1])) row("port", esc(str(x[1])));
    if (D.to[i]) row("target", esc(D.to[i][0] + ":" + D.to[i][1]));
    if (str(x[4])) row("name", esc(str(x[4])));
    if (x[3] >= 0) row("message", esc(message(i)));
    if (x[0] >= 0) row("duration", fmt(x[0]));
    (D.more[i] || []).forEach(function (kv) { row(kv[0], esc(kv[1])); });
    if (D.msg[i] !== undefined) row("error", esc(D.msg[i]), "fail");
    var html = '<div class="ev-detail"><b' + (failed(i) ? ' class="fail"' : "") + ">" + esc(kindName(i)) + "</b> of <b>" + esc(D.actors[e[1]]) +
      "</b><table>" + trs.join("") + "</table></div>";
    var ev = causes(i), list = Object.keys(ev).map(Number).sort(function (a, b) { return D.ev[a][2] - D.ev[b][2]; });
    html += "<div><b>Causal chain</b> (" + list.length + " events, oldest first)<ol>";
    list.forEach(function (j) {
      var to = D.to[j];
      html += '<li data-event="' + j + '"' + (failed(j) ? ' class="fail"' : "") + (j === i ? ' aria-current="true"' : "") + "><code>+" + fmt(D.ev[j][2]) + "</code> " +
        esc(kindName(j)) + (to ? " → " + esc(to[0]) : "") + " <b>" + esc(D.actors[D.ev[j][1]]) + "</b>" + (D.msg[j] ? ": " + esc(D.msg[j]) : "") + "</li>";
    });
    return html + "</ol></div>";
  }

  // selectEvent shows event i, highlights its causal chain, brings it into
  // view (opts.pan) and into the event list (opts.scroll).
  function selectEvent(i, act, opts) {
    opts = opts || {};
    selEvent = i;
    selectedAct = act === undefined ? (actOf[i] === undefined ? null : actOf[i]) : act;
    var ev = causes(i), acts = {};
    for (var j in ev) if (actOf[j] !== undefined) acts[actOf[j]] = true;
    if (selectedAct !== null) acts[selectedAct] = true;
    hl = { events: ev, acts: acts };
    detail.innerHTML = describe(i);
    document.body.setAttribute("data-selected", i);
    var t = D.ev[i][2];
    if (opts.pan && (t < v0 || t > v1)) {
      var n = v1 - v0;
      v0 = Math.max(0, Math.min(t - n / 2, span - n));
      v1 = v0 + n;
    }
    draw();
    if (opts.scroll) scrollToRow(i);
    renderRows();
  }
  function clearSelection() {
    hl = null; selectedAct = null; selEvent = -1;
    detail.textContent = "Nothing selected.";
    document.body.removeAttribute("data-selected");
    draw();
    renderRows();
  }
  detail.addEventListener("click", function (e) {
    var li = e.target.closest ? e.target.closest("li[data-event]") : null;
    if (li) selectEvent(+li.getAttribute("data-event"), undefined, { pan: true, scroll: true });
  });

  function zoom(f, at) {
    var t = at === undefined ? (v0 + v1) / 2 : at, n = Math.max((v1 - v0) * f, 1e3);
    v0 = Math.max(0, t - (t - v0) * n / (v1 - v0));
    v1 = Math.min(span, v0 + n);
    v0 = Math.max(0, v1 - n);
    draw();
  }
  svg.addEventListener("wheel", function (e) { e.preventDefault(); zoom(e.deltaY < 0 ? 0.7 : 1 / 0.7, timeAt(e.clientX)); }, { passive: false });
  var drag = null, moved = false;
  svg.addEventListener("mousedown", function (e) { drag = { x: e.clientX, v0: v0, v1: v1 }; moved = false; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dt = (e.clientX - drag.x) / (width() - LABEL - RIGHT) * (drag.v1 - drag.v0);
    if (Math.abs(e.clientX - drag.x) > 3) moved = true;
    var n = drag.v1 - drag.v0;
    v0 = Math.min(Math.max(0, drag.v0 - dt), span - n);
    v1 = v0 + n;
    draw();
  });
  svg.addEventListener("click", function (e) {
    if (moved) return;
    var t = e.target;
    if (t.hasAttribute("data-act")) { var a = +t.getAttribute("data-act"); selectEvent(D.acts[a][5], a, { scroll: true }); return; }
    if (t.hasAttribute("data-event")) { selectEvent(+t.getAttribute("data-event"), null, { scroll: true }); return; }
    var i = eventAt(e.clientX, e.clientY);
    if (i >= 0) selectEvent(i, undefined, { scroll: true });
    else clearSelection();
  });
  var hover = document.getElementById("hover");
  svg.addEventListener("mousemove", function (e) {
    if (drag) return;
    var i = e.target.hasAttribute("data-act") || e.target.hasAttribute("data-event") ? -1 : eventAt(e.clientX, e.clientY);
    svg.style.cursor = i >= 0 ? "pointer" : "";
    hover.textContent = i >= 0 ? kindName(i) + " · " + D.actors[D.ev[i][1]] + " · +" + fmt(D.ev[i][2]) + (where(i) ? " · " + where(i) : "") + (D.msg[i] ? " — " + D.msg[i] : "") : "";
    hover.className = "hover" + (i >= 0 && failed(i) ? " fail" : "");
  });
  svg.addEventListener("mouseleave", function () { hover.textContent = ""; });
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
      selectEvent(i, undefined, { scroll: true });
      svg.scrollIntoView({ block: "center" });
    };
  });

  // The legend: a swatch and a count per kind present; clicking one shows
  // only that kind in the event list.
  var legend = document.getElementById("legend"), lh = "";
  D.kinds.forEach(function (name, k) {
    if (kindCount[k]) lh += '<button type="button" data-kind="' + k + '"><i style="background:' + (COLOR[name] || "#555") + '"></i>' + esc(name) + " " + kindCount[k] + "</button>";
  });
  if (failCount) lh += '<button type="button" data-fail="1" class="fail"><i style="background:' + RED + '"></i>failures ' + failCount + "</button>";
  legend.innerHTML = lh;
  legend.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button") : null;
    if (!b) return;
    if (b.hasAttribute("data-fail")) fFail.checked = !fFail.checked;
    else fKind.value = fKind.value === b.getAttribute("data-kind") ? "" : b.getAttribute("data-kind");
    applyFilter();
  });

  // The event list: every event, one row each, filtered and sorted; only
  // the rows in view are in the DOM.
  var box = document.getElementById("events"), body = document.getElementById("ev-body");
  var head = box.querySelector(".ev-head");
  var fKind = document.getElementById("f-kind"), fActor = document.getElementById("f-actor");
  var fFail = document.getElementById("f-fail"), fText = document.getElementById("f-text");
  var rows = [], sortKey = "time", sortDesc = false, haystack = null;
  D.kinds.forEach(function (name, k) {
    if (kindCount[k]) fKind.add(new Option(name + " (" + kindCount[k] + ")", String(k)));
  });
  D.actors.forEach(function (name, a) { fActor.add(new Option(name + " (" + byActor[a].length + ")", String(a))); });
  function text(i) { return (kindName(i) + " " + D.actors[D.ev[i][1]] + " " + where(i) + " " + message(i) + " " + (D.msg[i] || "") + " " + D.ids[i]).toLowerCase(); }
  function applyFilter() {
    var kind = fKind.value === "" ? -1 : +fKind.value, actor = fActor.value === "" ? -1 : +fActor.value;
    var fail = fFail.checked, q = fText.value.trim().toLowerCase();
    if (q && !haystack) { haystack = new Array(N); for (var h = 0; h < N; h++) haystack[h] = text(h); }
    rows = [];
    for (var i = 0; i < N; i++) {
      var e = D.ev[i];
      if ((kind < 0 || e[0] === kind) && (actor < 0 || e[1] === actor) && (!fail || failed(i)) && (!q || haystack[i].indexOf(q) >= 0)) rows.push(i);
    }
    var by = {
      time: function (a, b) { return D.ev[a][2] - D.ev[b][2] || a - b; },
      kind: function (a, b) { return kindName(a) < kindName(b) ? -1 : kindName(a) > kindName(b) ? 1 : a - b; },
      actor: function (a, b) { return D.ev[a][1] - D.ev[b][1] || a - b; },
      dur: function (a, b) { return D.x[a][0] - D.x[b][0] || a - b; }
    }[sortKey];
    if (sortKey !== "time" || sortDesc) rows.sort(sortDesc ? function (a, b) { return by(b, a); } : by);
    body.style.height = rows.length * ROW + "px";
    document.getElementById("ev-shown").textContent = rows.length === N ? "all " + N + " shown" : rows.length + " of " + N + " shown";
    document.body.setAttribute("data-rows", rows.length);
    head.querySelectorAll("[data-sort]").forEach(function (s) {
      s.className = s.getAttribute("data-sort") === sortKey ? (sortDesc ? "sorted desc" : "sorted") : "";
    });
    renderRows();
  }
  function renderRows() {
    var top = Math.max(0, box.scrollTop - head.offsetHeight), first = Math.max(0, Math.floor(top / ROW) - 5);
    var last = Math.min(rows.length, first + Math.ceil((box.clientHeight || 400) / ROW) + 10);
    var frag = document.createDocumentFragment();
    for (var r = first; r < last; r++) {
      var i = rows[r], e = D.ev[i], div = document.createElement("div");
      div.className = "ev-row" + (failed(i) ? " fail" : "") + (i === selEvent ? " sel" : "");
      div.style.top = r * ROW + "px";
      div.setAttribute("data-i", i);
      div.setAttribute("role", "row");
      div.innerHTML = "<span>+" + fmt(e[2]) + '</span><span><i style="background:' + (failed(i) ? RED : COLOR[kindName(i)] || "#555") + '"></i>' + esc(kindName(i)) +
        "</span><span>" + esc(D.actors[e[1]]) + "</span><span>" + esc(where(i)) + "</span><span>" + esc(message(i)) + "</span><span>" +
        (D.x[i][0] >= 0 ? fmt(D.x[i][0]) : "") + "</span><span>" + esc(D.msg[i] || "") + "</span>";
      frag.appendChild(div);
    }
    body.textContent = "";
    body.appendChild(frag);
  }
  function scrollToRow(i) {
    var r = rows.indexOf(i);
    if (r < 0) return;
    // Row r sits right under the sticky header when scrollTop is r*ROW:
    // scroll by whole rows, r in the middle.
    var y = head.offsetHeight + r * ROW;
    if (y < box.scrollTop + head.offsetHeight || y + ROW > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, (r - Math.floor((box.clientHeight - head.offsetHeight) / ROW / 2)) * ROW);
    }
  }
  box.addEventListener("scroll", renderRows);
  body.addEventListener("click", function (e) {
    var row = e.target.closest ? e.target.closest(".ev-row") : null;
    if (row) selectEvent(+row.getAttribute("data-i"), undefined, { pan: true });
  });
  box.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    e.preventDefault();
    var r = rows.indexOf(selEvent) + (e.key === "ArrowDown" ? 1 : -1);
    if (r >= 0 && r < rows.length) selectEvent(rows[r], undefined, { pan: true, scroll: true });
  });
  head.addEventListener("click", function (e) {
    var k = e.target.getAttribute("data-sort");
    if (!k) return;
    if (k === sortKey) sortDesc = !sortDesc;
    else { sortKey = k; sortDesc = k === "dur"; }
    applyFilter();
  });
  [fKind, fActor, fFail].forEach(function (c) { c.addEventListener("change", applyFilter); });
  fText.addEventListener("input", applyFilter);
  document.querySelectorAll("#actors tbody tr").forEach(function (tr) {
    tr.style.cursor = "pointer";
    tr.title = "show this actor's events";
    tr.onclick = function () {
      var a = D.actors.indexOf(tr.getAttribute("data-actor"));
      fActor.value = fActor.value === String(a) ? "" : String(a);
      applyFilter();
      box.scrollIntoView({ block: "nearest" });
    };
  });

  // For scripts that drive the page (tests, automation).
  window.traceView = {
    select: function (i) { selectEvent(i, undefined, { pan: true, scroll: true }); },
    selected: function () { return selEvent; },
    // The client coordinates of event i's tick, or null when out of view.
    tick: function (i) {
      var t = D.ev[i][2];
      if (t < v0 || t > v1) return null;
      var r = svg.getBoundingClientRect();
      return { x: r.left + x(t, width()) + 0.5, y: r.top + laneY(D.ev[i][1]) + MARK_Y + MARK_H / 2 };
    },
    rows: function () { return rows.slice(); }
  };

  window.addEventListener("resize", function () { draw(); renderRows(); });
  draw();
  applyFilter();
  // #failure opens the page on the first failure's causal chain, #event=N
  // on event N.
  var m = /^#event=(\d+)$/.exec(location.hash);
  if (m && +m[1] < N) window.traceView.select(+m[1]);
  else if (location.hash === "#failure") {
    var first = document.querySelector("#failures li");
    if (first) first.onclick();
  }
  document.body.setAttribute("data-events", N);
  document.body.setAttribute("data-load-ms", Math.round(performance.now()));
  requestAnimationFrame(function () { document.body.setAttribute("data-frame-ms", Math.round(performance.now())); });
  document.body.setAttribute("data-rendered", "ok");
})();
