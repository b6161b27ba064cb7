// vpt report serve: one event stream per page. Events refresh the page's
// live part (a fragment the server renders, escaped like the page), the
// run page's output tail is appended as text, live frames are reloaded
// when the server says they changed. Nothing recorded is ever handled as
// markup here.
(function () {
  "use strict";
  var body = document.body;
  var stream = body.getAttribute("data-stream");
  window.vptEvents = [];
  window.vptLatency = [];

  function fmt(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60); s = s % 60;
    if (m < 60) return m + "m" + (s < 10 ? "0" : "") + s + "s";
    return Math.floor(m / 60) + "h" + (m % 60 < 10 ? "0" : "") + (m % 60) + "m";
  }
  var loaded = Date.now();
  function tick() {
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = fmt(Date.now() - Number(el.getAttribute("data-since")));
    });
    document.querySelectorAll("[data-eta]").forEach(function (el) {
      if (!el.hasAttribute("data-eta-at")) el.setAttribute("data-eta-at", String(Date.now()));
      var left = Number(el.getAttribute("data-eta")) - (Date.now() - Number(el.getAttribute("data-eta-at")));
      el.textContent = left > 0 ? fmt(left) : "0s";
    });
  }
  setInterval(tick, 1000);
  tick();

  // Refresh the live part at most every 300 ms, on the first page only
  // (an older page of results does not change).
  var pending = null;
  function refresh() {
    if (/[?&]after=/.test(location.search)) return;
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      var sep = location.search ? "&" : "?";
      fetch(location.pathname + location.search + sep + "fragment=1", { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
        .then(function (html) {
          var main = document.getElementById("main");
          var out = document.getElementById("output");
          var keep = out ? out.textContent : null;
          var frame = document.getElementById("frame");
          var src = frame ? frame.getAttribute("src") : null;
          var video = document.getElementById("video");
          // Server-rendered by html/template: every recorded text in it is escaped.
          main.innerHTML = html;
          // A video being watched stays as it is (playing, where it was):
          // events after the run's end (its upload, the device going idle)
          // must not start it again from the beginning.
          var video2 = document.getElementById("video");
          if (video && video2 && video.getAttribute("src") === video2.getAttribute("src")) {
            video2.parentNode.replaceChild(video, video2);
          }
          var out2 = document.getElementById("output");
          if (out2 && keep !== null) { out2.textContent = keep; out2.scrollTop = out2.scrollHeight; }
          var frame2 = document.getElementById("frame");
          if (frame2 && src) frame2.setAttribute("src", src);
          body.setAttribute("data-refreshed", String(Date.now()));
          tick();
        })
        .catch(function () {});
    }, 300);
  }

  var ansi = /\x1b\[[0-9;?]*[A-Za-z]/g;
  function output(text) {
    var pre = document.getElementById("output");
    if (!pre) return;
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text.replace(ansi, "")));
    if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-100000);
    if (stick) pre.scrollTop = pre.scrollHeight;
  }

  if (!stream || !window.EventSource) return;
  var live = document.getElementById("live");
  var es = new EventSource(stream);
  es.onopen = function () { if (live) live.className = "live"; };
  es.onerror = function () { if (live) live.className = "live off"; };
  es.addEventListener("vpt", function (m) {
    var e = JSON.parse(m.data);
    window.vptLatency.push(Date.now() - Date.parse(e.at));
    window.vptEvents.push(e);
    body.setAttribute("data-seq", String(e.seq));
    if (e.type === "run.step") {
      var step = document.getElementById("step");
      if (step && e.data) step.textContent = "step " + e.data.number + ": " + e.data.name;
    }
    refresh();
  });
  es.addEventListener("output", function (m) { output(JSON.parse(m.data)); });
  es.addEventListener("frame", function (m) {
    var d = JSON.parse(m.data);
    document.querySelectorAll("img[data-frame]").forEach(function (img) {
      if (img.getAttribute("data-frame") === d.run) {
        img.setAttribute("src", "/runs/" + encodeURIComponent(d.run) + "/frame?v=" + encodeURIComponent(String(d.v)));
      }
    });
  });
  es.addEventListener("reset", function () { location.reload(); });
  void loaded;
})();
