(function () {
  "use strict";
  var $ = function (s) { return document.querySelector(s); };
  // Theme: system by default, remembered when toggled.
  var root = document.documentElement;
  try { var saved = localStorage.getItem("vpt-theme"); if (saved) root.dataset.theme = saved; } catch (e) {}
  var themeBtn = $("#theme");
  if (themeBtn) themeBtn.addEventListener("click", function () {
    var dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    try { localStorage.setItem("vpt-theme", root.dataset.theme); } catch (e) {}
  });

  // Screenshot viewer: every screenshot of the run, previous/next, keys.
  var shots = VPT.shots || [];
  var viewer = $("#viewer"), img = $("#viewer-img"), title = $("#viewer-title");
  var current = -1;
  function show(i) {
    if (!shots.length) return;
    current = (i + shots.length) % shots.length;
    var s = shots[current];
    img.src = s.path;
    img.alt = s.label;
    title.textContent = (current + 1) + " / " + shots.length + " · " + s.label;
    viewer.hidden = false;
  }
  function showPath(path) {
    for (var i = 0; i < shots.length; i++) if (shots[i].path === path) return show(i);
    current = -1;
    img.src = path;
    img.alt = path;
    title.textContent = path.split("/").pop();
    viewer.hidden = false;
  }
  function close() { viewer.hidden = true; img.removeAttribute("src"); }
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".shot");
    if (!b) return;
    e.preventDefault();
    if (b.dataset.index !== undefined) show(parseInt(b.dataset.index, 10)); else showPath(b.dataset.shot);
  });
  $("#viewer-prev").addEventListener("click", function () { show(current - 1); });
  $("#viewer-next").addEventListener("click", function () { show(current + 1); });
  $("#viewer-close").addEventListener("click", close);
  viewer.addEventListener("click", function (e) { if (e.target === viewer) close(); });
  document.addEventListener("keydown", function (e) {
    if (viewer.hidden) return;
    if (e.key === "Escape") close();
    else if (e.key === "ArrowLeft" && current >= 0) show(current - 1);
    else if (e.key === "ArrowRight" && current >= 0) show(current + 1);
  });

  // Video: a marker per step; clicking one (or a step's ▶) plays from there.
  var video = $("#video"), bar = $("#markers");
  function seek(sec) {
    if (!video) return;
    video.currentTime = Math.max(0, sec);
    video.scrollIntoView({ block: "nearest" });
    var p = video.play();
    if (p && p.catch) p.catch(function () {});
  }
  function drawMarkers() {
    if (!bar) return;
    var total = video && isFinite(video.duration) && video.duration > 0 ? video.duration : VPT.durationMs / 1000;
    bar.textContent = "";
    (VPT.markers || []).forEach(function (m) {
      if (!total) return;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "st-" + m.status;
      b.style.left = Math.min(100, 100 * m.at / total) + "%";
      b.title = m.n + ". " + m.name + " (" + m.at.toFixed(1) + "s)";
      b.addEventListener("click", function () { seek(m.at); });
      bar.appendChild(b);
    });
  }
  if (video) {
    video.addEventListener("loadedmetadata", drawMarkers);
    drawMarkers();
  }
  document.querySelectorAll(".jump").forEach(function (b) {
    b.addEventListener("click", function (e) { e.preventDefault(); seek(parseInt(b.dataset.at, 10) / 1000); });
  });

  // Output: search and colours.
  var log = $("#log"), search = $("#log-search"), color = $("#log-color");
  if (search && log) search.addEventListener("input", function () {
    var q = search.value.toLowerCase();
    log.querySelectorAll(".line").forEach(function (l) {
      var hit = q && l.textContent.toLowerCase().indexOf(q) >= 0;
      l.classList.toggle("hit", !!hit);
      l.classList.toggle("hide", !!q && !hit);
    });
  });
  if (color && log) color.addEventListener("change", function () { log.classList.toggle("color", color.checked); });
})();
