(function () {
  "use strict";
  var $ = function (s) { return document.querySelector(s); };
  var root = document.documentElement;
  try { var saved = localStorage.getItem("vpt-theme"); if (saved) root.dataset.theme = saved; } catch (e) {}
  $("#theme").addEventListener("click", function () {
    var dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    try { localStorage.setItem("vpt-theme", root.dataset.theme); } catch (e) {}
    drawTimeline();
  });

  // Rows: [index, script, device, status, durationMs, attempts, label,
  // parameters "k=v k=v", why]; attempts: [attempt, status, report,
  // durationMs, device, offsetMs, resultID, error, where: "host:run folder"
  // of a run made on another host, pruned: the run was deleted since].
  var all = VPT.rows || [], shown = all, page = 0, per = 100, sortCol = 0, sortDir = 1;
  function fmt(ms) {
    if (ms < 1000) return ms + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
    var s = Math.round(ms / 1000);
    return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function badge(status) {
    var s = document.createElement("span");
    s.className = "badge st-" + status;
    s.textContent = status.replace("_", " ");
    return s;
  }
  function render() {
    var body = $("#rows");
    body.textContent = "";
    var pages = Math.max(1, Math.ceil(shown.length / per));
    page = Math.min(page, pages - 1);
    shown.slice(page * per, page * per + per).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.id = "entry-" + (r[0] + 1);
      tr.className = "st-" + r[3];
      cell(tr, r[0] + 1);
      var name = cell(tr, r[6] || r[1], "script");
      // A named entry shows its script and parameters (a label made of
      // them says them already).
      if (r[7] && r[6].indexOf(r[1] + "[") !== 0) {
        var ps = document.createElement("div");
        ps.className = "params muted small";
        ps.textContent = r[1] + " " + r[7];
        name.appendChild(ps);
      }
      cell(tr, r[2]);
      cell(tr, "").appendChild(badge(r[3]));
      cell(tr, fmt(r[4]));
      var why = cell(tr, r[8] || "", "why");
      if (r[8]) why.title = r[8];
      var td = cell(tr, "");
      r[5].forEach(function (a) {
        var el;
        if (a[2]) { el = document.createElement("a"); el.href = a[2]; } else { el = document.createElement("span"); }
        el.className = "att";
        el.textContent = "#" + a[0] + " " + a[1].replace("_", " ") + (a[1] !== "not_run" ? " " + fmt(a[3]) : "");
        if (a[7]) el.title = a[7];
        td.appendChild(el);
        if (a[9]) {
          var p = document.createElement("span");
          p.className = "where muted small";
          p.textContent = "pruned";
          p.title = "This run was deleted since (vpt report prune)";
          td.appendChild(p);
        }
        if (a[8] && !a[2]) {
          // Not uploaded, and not on this machine: say where it is.
          var w = document.createElement("span");
          w.className = "where muted small";
          w.textContent = a[8];
          td.appendChild(w);
        }
      });
      body.appendChild(tr);
    });
    if (!shown.length) {
      var tr = document.createElement("tr");
      cell(tr, "no entries match", "muted").colSpan = 7;
      body.appendChild(tr);
    }
    $("#page").textContent = "page " + (page + 1) + " of " + pages;
    $("#count").textContent = shown.length + " of " + all.length;
    $("#prev").disabled = page === 0;
    $("#next").disabled = page >= pages - 1;
  }
  function filter() {
    var q = $("#q").value.toLowerCase(), st = $("#status").value, dev = $("#device").value;
    shown = all.filter(function (r) {
      var text = (r[1] + " " + r[2] + " " + r[6] + " " + r[7] + " " + r[8]).toLowerCase();
      return (!q || text.indexOf(q) >= 0) &&
        (!st || r[3] === st) && (!dev || r[2] === dev);
    });
    shown.sort(function (a, b) { return (a[sortCol] > b[sortCol] ? 1 : a[sortCol] < b[sortCol] ? -1 : 0) * sortDir; });
    page = 0;
    render();
  }
  $("#q").addEventListener("input", filter);
  $("#status").addEventListener("change", filter);
  $("#device").addEventListener("change", filter);
  $("#prev").addEventListener("click", function () { page--; render(); });
  $("#next").addEventListener("click", function () { page++; render(); });
  document.querySelectorAll("th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      var c = parseInt(th.dataset.sort, 10);
      sortDir = c === sortCol ? -sortDir : 1;
      sortCol = c;
      filter();
    });
  });
  filter();

  // Timeline: one lane per device, one bar per attempt, coloured by status.
  // Colours: those of the legend under the timeline and of the badges.
  // An attempt that passed is drawn flaky when its entry is flaky.
  var colors = { passed: "--ok", flaky: "--flaky", failed: "--ko", timeout: "--timeout", interrupted: "--warn", error: "--err", abandoned: "--err" };
  var canvas = $("#timeline"), bars = [];
  function drawTimeline() {
    var lanes = {}, names = [], end = VPT.durationMs || 1;
    all.forEach(function (r) {
      r[5].forEach(function (a) {
        if (a[1] === "not_run") return;
        if (!(a[4] in lanes)) { lanes[a[4]] = names.length; names.push(a[4]); }
        end = Math.max(end, a[5] + a[3]);
      });
    });
    var lane = 22, label = 110, axis = 18, w = canvas.clientWidth || 800;
    var dpr = window.devicePixelRatio || 1;
    var h = Math.max(1, names.length) * lane + axis;
    canvas.height = h * dpr;
    canvas.width = w * dpr;
    canvas.style.height = h + "px";
    var ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    var css = getComputedStyle(document.documentElement);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    bars = [];
    names.forEach(function (n, i) {
      ctx.fillStyle = css.getPropertyValue("--muted");
      ctx.fillText(n, 4, i * lane + lane / 2);
    });
    var scale = (w - label - 4) / end;
    // The time axis: from the campaign's start, five ticks.
    var base = Math.max(1, names.length) * lane;
    ctx.fillStyle = css.getPropertyValue("--muted");
    ctx.fillRect(label, base + 1, w - label - 4, 1);
    for (var t = 0; t <= 4; t++) {
      var ms = Math.round(end * t / 4), tx = label + ms * scale;
      ctx.fillRect(tx, base + 1, 1, 4);
      ctx.textAlign = t === 0 ? "left" : t === 4 ? "right" : "center";
      ctx.fillText(t === 0 ? "start" : "+" + fmt(ms), tx, base + axis / 2 + 3);
    }
    ctx.textAlign = "left";
    all.forEach(function (r) {
      r[5].forEach(function (a) {
        if (a[1] === "not_run") return;
        var x = label + a[5] * scale, y = lanes[a[4]] * lane + 3, bw = Math.max(1, a[3] * scale);
        var st = a[1] === "passed" && r[3] === "flaky" ? "flaky" : a[1];
        ctx.fillStyle = css.getPropertyValue(colors[st] || "--muted");
        ctx.fillRect(x, y, bw, lane - 6);
        bars.push({ x: x, y: y, w: bw, h: lane - 6, r: r, a: a });
      });
    });
  }
  canvas.addEventListener("mousemove", function (e) {
    var rect = canvas.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
    var hit = bars.filter(function (b) { return x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h; })[0];
    $("#timeline-info").textContent = hit ? hit.r[1] + " on " + hit.a[4] + ": " + hit.a[1] + " in " + fmt(hit.a[3]) + " (attempt " + hit.a[0] + ")" : "\u00a0";
  });
  canvas.addEventListener("click", function (e) {
    var rect = canvas.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
    var hit = bars.filter(function (b) { return x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h; })[0];
    if (hit && hit.a[2]) location.href = hit.a[2];
  });
  window.addEventListener("resize", drawTimeline);
  drawTimeline();
})();
