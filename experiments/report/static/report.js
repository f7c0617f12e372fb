// chaoslab report: the timeline, latency and throughput charts, drawn on canvas.
// Rules: no dependencies, no network; reads the JSON in #report-data; every chart shares one
// time window (zoom and pan one, the others follow); only what is visible is drawn.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var O = D.ops;
  var N = O.start.length;
  var T_END = Math.max(D.t_end, 1);
  var GUTTER = 118, RIGHT = 14;
  var TYPE = ["ok", "fail", "info", "pending"];
  var COLOR = { ok: "#2e9d4f", fail: "#d64545", info: "#e39a2d", pending: "#e39a2d" };
  var TYPE_COLOR = [COLOR.ok, COLOR.fail, COLOR.info, COLOR.pending];
  var MISMATCH = D.errors.indexOf("mismatch"), MISMATCH_COLOR = "#eba3a3";
  function opColor(i) { return O.type[i] === 1 && O.error[i] === MISMATCH ? MISMATCH_COLOR : TYPE_COLOR[O.type[i]]; }
  var NODE_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
    "#ff9da7", "#9c755f", "#e15759", "#bab0ac"];
  var SHORT = { read: "R", write: "W", cas: "C", add: "A" };
  var view = { x0: 0, x1: T_END };
  var charts = [];
  var tooltip = document.getElementById("tooltip");
  var cxOps = {};
  (D.counterexample || []).forEach(function (i) { cxOps[i] = true; });

  function nodeColor(name) {
    var i = D.nodes.indexOf(name);
    return NODE_COLORS[(i < 0 ? 0 : i) % NODE_COLORS.length];
  }
  function faultFill(kind, alpha) {
    if (/^partition/.test(kind)) return "rgba(125,87,193," + alpha + ")";
    if (/kill|pause|restart|crash/.test(kind)) return "rgba(214,69,69," + (alpha * 0.8) + ")";
    return "rgba(60,120,200," + (alpha * 0.8) + ")";
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function fmtS(us) { return (us / 1e6).toFixed(us < 1e7 ? 3 : 2) + " s"; }
  function fmtMs(us) { return us >= 1e6 ? (us / 1e6).toFixed(2) + " s" : (us / 1e3).toFixed(2) + " ms"; }
  function json(v) { return JSON.stringify(v === undefined ? null : v); }
  function niceStep(span, target) {
    var raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) return steps[i] * p;
    return 10 * p;
  }

  // ---- shared time window -------------------------------------------------------------------
  var frame = 0;
  function redraw() {
    if (frame) return;
    frame = requestAnimationFrame(function () {
      frame = 0;
      charts.forEach(function (c) { c.draw(); });
      if (!window.chaoslabReport.firstDrawMs) window.chaoslabReport.firstDrawMs = performance.now();
    });
  }
  function setView(a, b) {
    var span = Math.max(b - a, 200);
    if (span >= T_END) { a = 0; b = T_END; } else {
      if (a < 0) { b -= a; a = 0; }
      if (b > T_END) { a -= b - T_END; b = T_END; }
      a = Math.max(a, 0);
    }
    view.x0 = a; view.x1 = a + Math.min(span, T_END);
    redraw();
  }
  function zoomAt(t, factor) {
    setView(t - (t - view.x0) * factor, t + (view.x1 - t) * factor);
  }

  // ---- a canvas chart ------------------------------------------------------------------------
  function Chart(id, height, opts) {
    this.box = document.getElementById(id);
    this.canvas = this.box.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.height = height;
    this.opts = opts;
    this.width = 0;
    charts.push(this);
  }
  Chart.prototype.resize = function () {
    var ratio = window.devicePixelRatio || 1;
    this.width = Math.max(this.box.clientWidth, 300);
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.canvas.style.height = this.height + "px";
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  };
  Chart.prototype.x = function (t) {
    return GUTTER + (t - view.x0) / (view.x1 - view.x0) * (this.width - GUTTER - RIGHT);
  };
  Chart.prototype.t = function (x) {
    return view.x0 + (x - GUTTER) / (this.width - GUTTER - RIGHT) * (view.x1 - view.x0);
  };
  Chart.prototype.draw = function () {
    var c = this.ctx;
    c.clearRect(0, 0, this.width, this.height);
    this.opts.draw.call(this, c);
  };
  Chart.prototype.axis = function (c, top, bottom, labels) {
    var step = niceStep(view.x1 - view.x0, Math.max(2, (this.width - GUTTER) / 110));
    c.strokeStyle = "#eef0f3"; c.fillStyle = "#5e6670"; c.font = "11px system-ui, sans-serif";
    c.textAlign = "center"; c.lineWidth = 1;
    for (var t = Math.ceil(view.x0 / step) * step; t <= view.x1; t += step) {
      var x = Math.round(this.x(t)) + 0.5;
      c.beginPath(); c.moveTo(x, top); c.lineTo(x, bottom); c.stroke();
      if (labels) c.fillText(step < 1e6 ? (t / 1e6).toFixed(step < 1e5 ? 3 : 2) + "s" : (t / 1e6).toFixed(0) + "s", x, top - 4);
    }
  };
  Chart.prototype.faults = function (c, top, bottom, labels) {
    var self = this;
    D.faults.forEach(function (f) {
      if (f.end < view.x0 || f.start > view.x1) return;
      var a = Math.max(self.x(f.start), GUTTER), b = Math.min(self.x(f.end), self.width - RIGHT);
      c.fillStyle = faultFill(f.fault, 0.14);
      c.fillRect(a, top, Math.max(b - a, 1), bottom - top);
      c.fillStyle = faultFill(f.fault, 0.9);
      c.fillRect(a, top, 2, bottom - top);
      if (labels && b - a > 30) {
        c.font = "bold 11px system-ui, sans-serif"; c.textAlign = "left";
        c.fillText(("#" + f.id + " " + f.fault).slice(0, Math.floor((b - a) / 6.5)), a + 4, top + 12);
      }
    });
  };
  Chart.prototype.phases = function (c, top, bottom) {
    var self = this;
    c.save(); c.setLineDash([3, 3]); c.strokeStyle = "#9aa1aa"; c.fillStyle = "#5e6670";
    c.font = "10px system-ui, sans-serif"; c.textAlign = "left";
    D.phases.forEach(function (p) {
      if (p[0] < view.x0 || p[0] > view.x1 || p[1] === "workload") return;
      var x = Math.round(self.x(p[0])) + 0.5;
      c.beginPath(); c.moveTo(x, top); c.lineTo(x, bottom); c.stroke();
      c.fillText(p[1], x + 3, bottom - 3);
    });
    c.restore();
  };
  Chart.prototype.gutter = function (c) {
    c.fillStyle = "#fff"; c.fillRect(0, 0, GUTTER - 1, this.height);
    c.fillStyle = "#fff"; c.fillRect(this.width - RIGHT, 0, RIGHT, this.height);
  };

  // ---- timeline ------------------------------------------------------------------------------
  var lanes = D.lanes.map(function () { return []; });
  for (var i = 0; i < N; i++) lanes[O.lane[i]].push(i);
  var nodes = D.nodes.filter(function (n) { return D.roles[n] || D.down[n] || D.marks.some(function (m) { return m[1] === n; }); });
  var laneH = Math.max(5, Math.min(18, Math.floor(520 / Math.max(lanes.length, 1))));
  var AXIS = 22, LEADER_H = 22, NODE_H = 13, GAP = 8;
  var nodesTop = AXIS + LEADER_H + 4;
  var procTop = nodesTop + nodes.length * NODE_H + GAP;
  var timelineH = procTop + lanes.length * laneH + 16;
  var breakerSpans = lanes.map(function () { return []; });
  D.breakers.forEach(function (b) {
    var lane = -1;
    D.lanes.forEach(function (l, n) { if (l.process === b[1]) lane = n; });
    if (lane < 0) return;
    var spans = breakerSpans[lane], last = spans[spans.length - 1];
    if (last && last.end === null) last.end = b[0];
    if (b[3] !== "closed") spans.push({ start: b[0], end: null, state: b[3] });
  });

  function opEnd(i) { return O.type[i] >= 2 ? T_END : O.end[i]; }
  function describeOp(i) {
    var f = D.fs[O.f[i]], type = TYPE[O.type[i]];
    var v = O.value[i], txt;
    if (f === "cas" && Array.isArray(v) && v.length === 2) txt = json(v[0]) + " → " + json(v[1]);
    else txt = json(v);
    var rows = [
      "<b>" + esc(f) + " " + esc(D.keys[O.key[i]] || "") + " " + esc(txt) + "</b> — " + esc(type) +
        (O.error[i] >= 0 ? " (" + esc(D.errors[O.error[i]]) + ")" : ""),
      "<span class=k>process</span> " + esc(D.lanes[O.lane[i]].process) + " <span class=k>node</span> " + esc(D.nodes[O.node[i]] || "–"),
      "<span class=k>called</span> " + fmtS(O.start[i]) + (O.type[i] === 3 ? " <span class=k>never returned</span>" :
        " <span class=k>returned</span> " + fmtS(O.end[i]) + " <span class=k>after</span> " + fmtMs(O.end[i] - O.start[i])),
      "<span class=k>history.jsonl lines</span> " + (O.index[i] + 1) + (O.done[i] >= 0 ? ", " + (O.done[i] + 1) : ""),
    ];
    if (O.type[i] >= 2) rows.push("<span class=k>outcome unknown: it may take effect any time after its call</span>");
    if (D.finals.indexOf(i) >= 0) rows.push("<span class=k>a final read, after the run</span>");
    if (cxOps[O.index[i]]) rows.push("<b>part of the counterexample</b>");
    return rows.join("<br>");
  }

  var timeline = new Chart("timeline", timelineH, {
    draw: function (c) {
      var self = this, W = this.width, bottom = timelineH - 14;
      this.axis(c, AXIS, bottom, true);
      this.faults(c, AXIS, bottom, false);
      // leader lane
      c.font = "11px system-ui, sans-serif"; c.textBaseline = "middle";
      D.leaders.forEach(function (s) {
        if (s[1] < view.x0 || s[0] > view.x1) return;
        var a = Math.max(self.x(s[0]), GUTTER), b = Math.min(self.x(s[1]), W - RIGHT);
        if (s[2] === null || s[2] === undefined) {
          c.fillStyle = "#e6e8eb"; c.fillRect(a, AXIS + 2, Math.max(b - a, 1), LEADER_H - 4);
          if (b - a > 60) { c.fillStyle = "#5e6670"; c.textAlign = "left"; c.fillText("no leader", a + 4, AXIS + LEADER_H / 2); }
          return;
        }
        c.fillStyle = nodeColor(s[2]); c.fillRect(a, AXIS + 2, Math.max(b - a, 1), LEADER_H - 4);
        c.fillStyle = "#fff"; c.fillRect(a, AXIS + 2, 1, LEADER_H - 4);
        if (b - a > 40) {
          c.fillStyle = "#fff"; c.textAlign = "left";
          c.fillText((s[2] + " leads · term " + s[3]).slice(0, Math.floor((b - a - 6) / 6)), a + 5, AXIS + LEADER_H / 2);
        }
      });
      // node lanes: role, down intervals, marks
      nodes.forEach(function (n, k) {
        var y = nodesTop + k * NODE_H;
        D.faults.forEach(function (f) {
          if (!Array.isArray(f.targets) || f.targets.length >= nodes.length || f.targets.indexOf(n) < 0) return;
          if (f.end < view.x0 || f.start > view.x1) return;
          var a = Math.max(self.x(f.start), GUTTER), b = Math.min(self.x(f.end), W - RIGHT);
          c.fillStyle = faultFill(f.fault, 0.45); c.fillRect(a, y, Math.max(b - a, 1), NODE_H);
          if (b - a > 90 && /^partition/.test(f.fault)) { c.fillStyle = "#3d2a66"; c.textAlign = "left"; c.fillText("cut off by #" + f.id, Math.max(a, GUTTER) + 60, y + NODE_H / 2); }
        });
        (D.roles[n] || []).forEach(function (s) {
          if (s[1] < view.x0 || s[0] > view.x1) return;
          var a = Math.max(self.x(s[0]), GUTTER), b = Math.min(self.x(s[1]), W - RIGHT), role = s[2][0];
          if (role === "leader") { c.fillStyle = nodeColor(n); c.fillRect(a, y + 2, Math.max(b - a, 1), NODE_H - 4); }
          else if (role === "candidate") { c.fillStyle = "#edc948"; c.fillRect(a, y + 3, Math.max(b - a, 1), NODE_H - 6); }
          else if (role === "unreachable") { c.fillStyle = "#f3c1c1"; c.fillRect(a, y + 3, Math.max(b - a, 1), NODE_H - 6); }
          else { c.fillStyle = "#d5d9de"; c.fillRect(a, y + 5, Math.max(b - a, 1), 3); }
        });
        (D.down[n] || []).forEach(function (s) {
          if (s[1] < view.x0 || s[0] > view.x1) return;
          var a = Math.max(self.x(s[0]), GUTTER), b = Math.min(self.x(s[1]), W - RIGHT);
          c.fillStyle = "rgba(214,69,69,.85)"; c.fillRect(a, y + 2, Math.max(b - a, 1), NODE_H - 4);
          if (b - a > 50) { c.fillStyle = "#fff"; c.textAlign = "left"; c.fillText(String(s[2]), a + 4, y + NODE_H / 2); }
        });
      });
      c.textAlign = "center"; c.font = "10px system-ui, sans-serif";
      D.marks.forEach(function (m) {
        var k = nodes.indexOf(m[1]);
        if (k < 0 || m[0] < view.x0 || m[0] > view.x1) return;
        c.fillStyle = m[2] ? "#b22" : "#2e7d32";
        c.fillText(m[2] ? "▼" : "▲", self.x(m[0]), nodesTop + k * NODE_H + NODE_H / 2);
      });
      // process lanes
      var px = (view.x1 - view.x0) / (W - GUTTER - RIGHT);
      var h = Math.max(laneH - 3, 3), labelled = laneH >= 12;
      c.font = "10px system-ui, sans-serif"; c.textAlign = "left";
      lanes.forEach(function (ops, l) {
        var y = procTop + l * laneH;
        if (l % 2 === 1) { c.fillStyle = "rgba(0,0,0,.025)"; c.fillRect(GUTTER, y, W - GUTTER - RIGHT, laneH); }
        breakerSpans[l].forEach(function (s) {
          var end = s.end === null ? T_END : s.end;
          if (end < view.x0 || s.start > view.x1) return;
          c.fillStyle = s.state === "open" ? "#d64545" : "#e39a2d";
          var a = Math.max(self.x(s.start), GUTTER);
          c.fillRect(a, y, Math.max(Math.min(self.x(end), W - RIGHT) - a, 1), 1.5);
        });
        var outline = [];
        for (var j = 0; j < ops.length; j++) {
          var i = ops[j], s = O.start[i];
          if (s > view.x1) break;
          var type = O.type[i], e = type === 3 ? s : O.end[i];
          if (type >= 2) { // unknown outcome: a thin tail to the end of the run
            var ta = Math.max(self.x(e), GUTTER);
            c.fillStyle = "rgba(227,154,45,.45)"; c.fillRect(ta, y + h - 1.5, W - RIGHT - ta, 1.5);
          }
          if (e < view.x0) continue;
          var a = Math.max(self.x(s), GUTTER), b = Math.min(self.x(e), W - RIGHT);
          var w = Math.max(b - a, 1);
          c.fillStyle = opColor(i);
          c.fillRect(a, y + 1, w, h);
          if (cxOps[O.index[i]]) outline.push([a, y + 1, w, h]);
          if (labelled && w > 26) {
            var f = D.fs[O.f[i]], v = O.value[i];
            var txt = (SHORT[f] || f) + " " + (f === "cas" && Array.isArray(v) ? json(v[0]) + "→" + json(v[1]) : json(v));
            c.fillStyle = "#fff"; c.fillText(txt.slice(0, Math.floor(w / 6)), a + 2, y + 1 + h / 2 + 3.5);
          }
        }
        c.strokeStyle = "#000"; c.lineWidth = 2;
        outline.forEach(function (r) { c.strokeRect(r[0] - 1, r[1] - 1, r[2] + 2, r[3] + 2); });
        c.lineWidth = 1;
      });
      this.phases(c, AXIS, bottom + 12);
      // fault labels under the lanes
      c.textBaseline = "alphabetic";
      var self2 = this;
      D.faults.forEach(function (f) {
        if (f.end < view.x0 || f.start > view.x1) return;
        var a = Math.max(self2.x(f.start), GUTTER), b = Math.min(self2.x(f.end), W - RIGHT);
        c.fillStyle = faultFill(f.fault, 1);
        c.font = "bold 11px system-ui, sans-serif"; c.textAlign = "left";
        if (b - a > 24) c.fillText(("#" + f.id + " " + f.fault).slice(0, Math.floor((b - a) / 6.5)), a + 3, bottom + 11);
      });
      this.gutter(c);
      c.fillStyle = "#1f2328"; c.textAlign = "right"; c.font = "11px system-ui, sans-serif"; c.textBaseline = "middle";
      c.fillText("leader · term", GUTTER - 8, AXIS + LEADER_H / 2);
      nodes.forEach(function (n, k) {
        c.fillStyle = nodeColor(n); c.fillText(n, GUTTER - 8, nodesTop + k * NODE_H + NODE_H / 2);
      });
      c.fillStyle = "#5e6670"; c.font = (laneH >= 11 ? 10 : 8) + "px system-ui, sans-serif";
      var every = Math.ceil(10 / laneH);
      lanes.forEach(function (ops, l) {
        if (l % every !== 0) return;
        var lane = D.lanes[l];
        c.fillText("p" + lane.process + (lane.node ? " → " + lane.node : ""), GUTTER - 8, procTop + l * laneH + laneH / 2);
      });
      c.textBaseline = "alphabetic";
      c.fillStyle = "#5e6670"; c.textAlign = "right"; c.font = "10px system-ui, sans-serif";
      c.fillText(fmtS(view.x0) + " – " + fmtS(view.x1), GUTTER - 8, 10);
      c.fillText(fmtMs(px) + " per pixel", GUTTER - 8, 20);
    },
  });
  timeline.hit = function (x, y) {
    var t = this.t(x), slack = 3 * (view.x1 - view.x0) / (this.width - GUTTER - RIGHT);
    if (y >= procTop && y < procTop + lanes.length * laneH) {
      var ops = lanes[Math.floor((y - procTop) / laneH)], best = -1;
      for (var j = 0; j < ops.length; j++) {
        var i = ops[j];
        if (O.start[i] - slack > t) break;
        var e = O.type[i] === 3 ? O.start[i] : O.end[i];
        if (t <= e + slack) best = i;
      }
      return best >= 0 ? describeOp(best) : null;
    }
    if (y >= AXIS && y < AXIS + LEADER_H) {
      var seg = D.leaders.filter(function (s) { return s[0] <= t && t < s[1]; })[0];
      if (seg) return seg[2] ? "<b>" + esc(seg[2]) + "</b> leads, term " + esc(seg[3]) + "<br>" + fmtS(seg[0]) + " – " + fmtS(seg[1]) : "no leader a majority agrees on<br>" + fmtS(seg[0]) + " – " + fmtS(seg[1]);
    }
    if (y >= nodesTop && y < nodesTop + nodes.length * NODE_H) {
      var n = nodes[Math.floor((y - nodesTop) / NODE_H)];
      var down = (D.down[n] || []).filter(function (s) { return s[0] <= t && t < s[1]; })[0];
      if (down) return "<b>" + esc(n) + "</b> down (" + esc(down[2]) + ")<br>" + fmtS(down[0]) + " – " + fmtS(down[1]);
      var role = (D.roles[n] || []).filter(function (s) { return s[0] <= t && t < s[1]; })[0];
      if (role) return "<b>" + esc(n) + "</b> " + esc(role[2][0]) + ", term " + esc(role[2][1]) + (role[2][2] ? ", follows " + esc(role[2][2]) : "") + "<br>since " + fmtS(role[0]);
    }
    var f = D.faults.filter(function (w) { return w.start <= t && t < w.end; });
    if (f.length) return f.map(function (w) { return "<b>#" + esc(w.id) + " " + esc(w.fault) + "</b> " + esc(w.description) + "<br>" + fmtS(w.start) + " – " + (w.open ? "end" : fmtS(w.end)); }).join("<br>");
    return null;
  };

  // ---- overview (the whole run; drag to choose a window) ------------------------------------
  var density = new Array(200).fill(0);
  for (var k = 0; k < N; k++) density[Math.min(199, Math.floor(O.start[k] / T_END * 200))]++;
  var densityMax = Math.max.apply(null, density.concat([1]));
  var overview = new Chart("overview", 46, {
    draw: function (c) {
      var W = this.width, w = W - GUTTER - RIGHT, self = this;
      var X = function (t) { return GUTTER + t / T_END * w; };
      D.faults.forEach(function (f) {
        c.fillStyle = faultFill(f.fault, 0.25); c.fillRect(X(f.start), 4, Math.max(X(f.end) - X(f.start), 1), 38);
      });
      c.fillStyle = "#9aa6b2";
      for (var b = 0; b < 200; b++) {
        var hgt = density[b] / densityMax * 30;
        c.fillRect(GUTTER + b * w / 200, 40 - hgt, Math.max(w / 200 - 0.5, 0.5), hgt);
      }
      c.fillStyle = "rgba(11,92,173,.12)"; c.strokeStyle = "#0b5cad";
      c.fillRect(X(view.x0), 2, Math.max(X(view.x1) - X(view.x0), 2), 42);
      c.strokeRect(X(view.x0) + 0.5, 2.5, Math.max(X(view.x1) - X(view.x0), 2) - 1, 41);
      if (self.brush) {
        c.fillStyle = "rgba(11,92,173,.25)";
        c.fillRect(Math.min(self.brush[0], self.brush[1]), 2, Math.abs(self.brush[1] - self.brush[0]), 42);
      }
      c.fillStyle = "#5e6670"; c.font = "11px system-ui, sans-serif"; c.textAlign = "right";
      c.fillText("whole run", GUTTER - 8, 20); c.fillText("drag to zoom", GUTTER - 8, 34);
    },
  });
  overview.toTime = function (x) { return (x - GUTTER) / (this.width - GUTTER - RIGHT) * T_END; };

  // ---- latency -------------------------------------------------------------------------------
  var LAT_H = 260, LAT_TOP = 18, LAT_BOTTOM = LAT_H - 22;
  var latMax = 1, latMin = 1e9;
  for (var q = 0; q < N; q++) {
    if (O.type[q] === 3) continue;
    var ms = (O.end[q] - O.start[q]) / 1e3;
    if (ms > latMax) latMax = ms;
    if (ms > 0 && ms < latMin) latMin = ms;
  }
  latMin = Math.pow(10, Math.floor(Math.log10(Math.min(latMin, latMax))));
  latMax = Math.pow(10, Math.ceil(Math.log10(latMax)));
  function latY(ms) {
    var v = Math.log10(Math.max(ms, latMin)), lo = Math.log10(latMin), hi = Math.log10(latMax);
    return LAT_BOTTOM - (v - lo) / Math.max(hi - lo, 1e-9) * (LAT_BOTTOM - LAT_TOP);
  }
  var QUANTILES = [["p50", "#1f2328"], ["p95", "#5b6fb5"], ["p99", "#b55b9c"]];
  var latency = new Chart("latency", LAT_H, {
    draw: function (c) {
      var self = this, W = this.width;
      this.axis(c, LAT_TOP, LAT_BOTTOM, true);
      this.faults(c, LAT_TOP, LAT_BOTTOM, true);
      c.font = "10px system-ui, sans-serif"; c.textAlign = "right"; c.strokeStyle = "#eef0f3";
      for (var m = latMin; m <= latMax * 1.001; m *= 10) {
        var y = Math.round(latY(m)) + 0.5;
        c.beginPath(); c.moveTo(GUTTER, y); c.lineTo(W - RIGHT, y); c.stroke();
      }
      for (var t = 0; t < 3; t++) {
        c.globalAlpha = 0.55; c.fillStyle = TYPE_COLOR[t];
        for (var i = 0; i < N; i++) {
          if (O.type[i] !== t || O.start[i] < view.x0 || O.start[i] > view.x1) continue;
          c.fillRect(this.x(O.start[i]) - 1, latY((O.end[i] - O.start[i]) / 1e3) - 1, 2.2, 2.2);
        }
      }
      c.globalAlpha = 1;
      QUANTILES.forEach(function (qq) {
        var series = D.latency[qq[0]];
        c.strokeStyle = qq[1]; c.lineWidth = 1.6; c.beginPath();
        var pen = false;
        for (var b = 0; b < series.length; b++) {
          var v = series[b];
          if (v === null) { pen = false; continue; }
          var x = self.x((b + 0.5) * D.bucket_us);
          if (pen) c.lineTo(x, latY(v)); else c.moveTo(x, latY(v));
          pen = true;
        }
        c.stroke();
      });
      c.lineWidth = 1;
      this.gutter(c);
      c.fillStyle = "#5e6670"; c.textAlign = "right"; c.font = "10px system-ui, sans-serif";
      for (var m2 = latMin; m2 <= latMax * 1.001; m2 *= 10) {
        c.fillText(m2 >= 1000 ? m2 / 1000 + " s" : m2 + " ms", GUTTER - 8, latY(m2) + 3);
      }
      c.save(); c.translate(14, (LAT_TOP + LAT_BOTTOM) / 2); c.rotate(-Math.PI / 2); c.textAlign = "center";
      c.fillText("latency (log)", 0, 0); c.restore();
    },
  });
  latency.hit = function (x) {
    var b = Math.floor(this.t(x) / D.bucket_us);
    if (b < 0 || b >= D.latency.p50.length) return null;
    var parts = QUANTILES.map(function (qq) { var v = D.latency[qq[0]][b]; return qq[0] + " " + (v === null ? "–" : v.toFixed(2) + " ms"); });
    return fmtS(b * D.bucket_us) + " – " + fmtS((b + 1) * D.bucket_us) + "<br>" + parts.join(" · ");
  };

  // ---- throughput ----------------------------------------------------------------------------
  var TP_H = 220, TP_TOP = 18, TP_BOTTOM = TP_H - 22;
  var F_COLORS = ["#4e79a7", "#8e6bbf", "#9c755f", "#76b7b2", "#f28e2b"];
  var F_FIXED = { read: "#4e79a7", write: "#8e6bbf", cas: "#9c755f", add: "#8e6bbf" };
  var DASH = { ok: [], fail: [6, 3], info: [2, 3] };
  var hidden = {};
  var tpMax = 1;
  D.throughput.forEach(function (s) { s.rate.forEach(function (r) { if (r > tpMax) tpMax = r; }); });
  var fNames = [];
  D.throughput.forEach(function (s) { if (fNames.indexOf(s.f) < 0) fNames.push(s.f); });
  function fColor(f) { return F_FIXED[f] || F_COLORS[fNames.indexOf(f) % F_COLORS.length]; }
  var legend = document.getElementById("throughput-legend");
  D.throughput.forEach(function (s, n) {
    var label = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox"; box.checked = true;
    box.addEventListener("change", function () { hidden[n] = !box.checked; redraw(); });
    var sw = document.createElement("i");
    sw.className = "sw";
    sw.style.background = s.type === "ok" ? fColor(s.f) : "repeating-linear-gradient(90deg," + fColor(s.f) + " 0 " + (s.type === "fail" ? "5px" : "2px") + ",transparent 0 8px)";
    label.appendChild(box); label.appendChild(sw);
    label.appendChild(document.createTextNode(s.f + " " + s.type));
    legend.appendChild(label);
  });
  var note = document.createElement("span");
  note.textContent = "completions per second, per " + (D.bucket_us / 1e6) + " s";
  legend.appendChild(note);
  var throughput = new Chart("throughput", TP_H, {
    draw: function (c) {
      var self = this, W = this.width;
      var Y = function (r) { return TP_BOTTOM - r / tpMax * (TP_BOTTOM - TP_TOP); };
      this.axis(c, TP_TOP, TP_BOTTOM, true);
      this.faults(c, TP_TOP, TP_BOTTOM, true);
      var step = niceStep(tpMax, 4);
      c.strokeStyle = "#eef0f3";
      for (var r = step; r <= tpMax; r += step) { c.beginPath(); c.moveTo(GUTTER, Y(r) + 0.5); c.lineTo(W - RIGHT, Y(r) + 0.5); c.stroke(); }
      D.throughput.forEach(function (s, n) {
        if (hidden[n]) return;
        c.strokeStyle = fColor(s.f); c.lineWidth = s.type === "ok" ? 1.8 : 1.4;
        c.setLineDash(DASH[s.type] || []); c.beginPath();
        for (var b = 0; b < s.rate.length; b++) {
          var x = self.x((b + 0.5) * D.bucket_us);
          if (b === 0) c.moveTo(x, Y(s.rate[b])); else c.lineTo(x, Y(s.rate[b]));
        }
        c.stroke();
      });
      c.setLineDash([]); c.lineWidth = 1;
      this.gutter(c);
      c.fillStyle = "#5e6670"; c.textAlign = "right"; c.font = "10px system-ui, sans-serif";
      for (var r2 = 0; r2 <= tpMax; r2 += step) c.fillText(r2 + "/s", GUTTER - 8, Y(r2) + 3);
    },
  });
  throughput.hit = function (x) {
    var b = Math.floor(this.t(x) / D.bucket_us);
    if (b < 0 || !D.throughput.length || b >= D.throughput[0].rate.length) return null;
    return fmtS(b * D.bucket_us) + " – " + fmtS((b + 1) * D.bucket_us) + "<br>" + D.throughput.map(function (s) {
      return esc(s.f + " " + s.type) + ": " + s.rate[b] + "/s";
    }).join("<br>");
  };

  // ---- interaction ---------------------------------------------------------------------------
  function showTip(html, ev) {
    if (!html) { tooltip.hidden = true; return; }
    tooltip.innerHTML = html; tooltip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tooltip.offsetWidth > window.innerWidth - 8) x = ev.clientX - tooltip.offsetWidth - 14;
    if (y + tooltip.offsetHeight > window.innerHeight - 8) y = ev.clientY - tooltip.offsetHeight - 14;
    tooltip.style.left = x + "px"; tooltip.style.top = y + "px";
  }
  function local(chart, ev) {
    var r = chart.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
  [timeline, latency, throughput].forEach(function (chart) {
    var drag = null;
    chart.canvas.addEventListener("mousedown", function (ev) {
      drag = { x: ev.clientX, x0: view.x0, x1: view.x1 };
      chart.box.classList.add("dragging"); ev.preventDefault();
    });
    window.addEventListener("mousemove", function (ev) {
      if (!drag) return;
      var dt = (ev.clientX - drag.x) / (chart.width - GUTTER - RIGHT) * (drag.x1 - drag.x0);
      setView(drag.x0 - dt, drag.x1 - dt);
    });
    window.addEventListener("mouseup", function () { drag = null; chart.box.classList.remove("dragging"); });
    chart.canvas.addEventListener("mousemove", function (ev) {
      if (drag) { tooltip.hidden = true; return; }
      var p = local(chart, ev);
      showTip(p[0] > GUTTER ? chart.hit(p[0], p[1]) : null, ev);
    });
    chart.canvas.addEventListener("mouseleave", function () { tooltip.hidden = true; });
    chart.canvas.addEventListener("wheel", function (ev) {
      var p = local(chart, ev);
      if (ev.ctrlKey || ev.metaKey || ev.altKey) {
        ev.preventDefault();
        zoomAt(chart.t(p[0]), ev.deltaY > 0 ? 1.25 : 0.8);
      } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        ev.preventDefault();
        var dt = ev.deltaX / (chart.width - GUTTER - RIGHT) * (view.x1 - view.x0);
        setView(view.x0 + dt, view.x1 + dt);
      }
    }, { passive: false });
    chart.canvas.addEventListener("dblclick", function () { setView(0, T_END); });
  });
  overview.canvas.addEventListener("mousedown", function (ev) {
    var p = local(overview, ev);
    overview.brush = [p[0], p[0]]; ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!overview.brush) return;
    overview.brush[1] = local(overview, ev)[0]; redraw();
  });
  window.addEventListener("mouseup", function () {
    if (!overview.brush) return;
    var a = overview.toTime(Math.min(overview.brush[0], overview.brush[1]));
    var b = overview.toTime(Math.max(overview.brush[0], overview.brush[1]));
    overview.brush = null;
    if (b - a < T_END / 500) { var half = (view.x1 - view.x0) / 2; setView(a - half, a + half); }
    else setView(a, b);
  });
  document.getElementById("timeline-toolbar").addEventListener("click", function (ev) {
    var target = ev.target;
    if (!(target instanceof HTMLElement)) return;
    var mid = (view.x0 + view.x1) / 2;
    if (target.dataset.zoom === "in") zoomAt(mid, 0.5);
    else if (target.dataset.zoom === "out") zoomAt(mid, 2);
    else if (target.dataset.zoom === "reset") setView(0, T_END);
    else if (target.dataset.fault !== undefined) {
      var f = D.faults[Number(target.dataset.fault)];
      if (f) { var pad = (f.end - f.start) * 0.25; setView(f.start - pad, f.end + pad); }
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target instanceof HTMLInputElement) return;
    var span = view.x1 - view.x0, mid = view.x0 + span / 2;
    if (ev.key === "+" || ev.key === "=") zoomAt(mid, 0.5);
    else if (ev.key === "-") zoomAt(mid, 2);
    else if (ev.key === "0") setView(0, T_END);
    else if (ev.key === "ArrowLeft") setView(view.x0 - span / 4, view.x1 - span / 4);
    else if (ev.key === "ArrowRight") setView(view.x0 + span / 4, view.x1 + span / 4);
  });
  var cxButton = document.getElementById("cx-zoom");
  if (cxButton) cxButton.addEventListener("click", function () {
    var lo = T_END, hi = 0;
    for (var i = 0; i < N; i++) {
      if (!cxOps[O.index[i]]) continue;
      lo = Math.min(lo, O.start[i]); hi = Math.max(hi, O.type[i] === 3 ? O.start[i] : O.end[i]);
    }
    if (hi > lo) { var pad = (hi - lo) * 0.15 + 1000; setView(lo - pad, hi + pad); }
    document.getElementById("timeline-section").scrollIntoView();
  });
  var copy = document.getElementById("copy-command");
  if (copy) copy.addEventListener("click", function () {
    var text = document.getElementById("command").textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { copy.textContent = "copied"; }, function () { copy.textContent = "select and copy"; });
  });
  function layout() { charts.forEach(function (c) { c.resize(); }); redraw(); }
  window.addEventListener("resize", layout);
  layout();
  // for tests and the curious: the shared window and a way to move it
  window.chaoslabReport = {
    view: view, setView: setView, tEnd: T_END, operations: N,
    locate: function (i) { // the middle of operation i's bar, in client coordinates (or null)
      var r = timeline.canvas.getBoundingClientRect(), e = O.type[i] === 3 ? O.start[i] : O.end[i];
      var a = Math.max(timeline.x(O.start[i]), GUTTER), b = Math.min(timeline.x(e), timeline.width - RIGHT);
      if (b < GUTTER || a > timeline.width - RIGHT) return null;
      return { x: r.left + (a + b) / 2, y: r.top + procTop + O.lane[i] * laneH + laneH / 2 };
    },
  };
  document.body.dataset.ready = "true";
})();
