/* convmig change record: draws a tree's graph and row changes when it is opened.
   Every value is written with textContent or as an SVG attribute, never as markup. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var KIND = { e: "explicit", i: "implicit", u: "unknown" };
  var NODE_W = 150, NODE_H = 24, COL_GAP = 44, ROW_GAP = 10, PAD = 12, TITLE = 22, INDENT = 28, GROUP_GAP = 14;
  var PRINT_LIMIT = 2000;

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function el(tag, text, cls, parent) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function shortLabel(name) {
    return name.length > 22 ? name.slice(0, 21) + "\u2026" : name;
  }

  /* Group boxes stacked top to bottom (nested stacks indented by depth); inside a
     box, one column per layer (layer 0: requires nothing), one row per node. */
  function layout(graph) {
    var boxes = graph.groups.map(function (g) { return { id: g[0], name: g[1], depth: g[2], layers: 0, rows: 0 }; });
    graph.nodes.forEach(function (n) {
      var box = boxes[n[2]];
      box.layers = Math.max(box.layers, n[3] + 1);
      box.rows = Math.max(box.rows, n[4] + 1);
    });
    var y = 0, width = 0;
    boxes.forEach(function (box) {
      box.x = box.depth * INDENT;
      box.y = y;
      box.w = Math.max(2 * PAD + box.layers * NODE_W + Math.max(box.layers - 1, 0) * COL_GAP, 260, box.name.length * 7 + 24);
      box.h = TITLE + PAD + Math.max(box.rows, 1) * (NODE_H + ROW_GAP);
      y += box.h + GROUP_GAP;
      width = Math.max(width, box.x + box.w);
    });
    var places = graph.nodes.map(function (n) {
      var box = boxes[n[2]];
      return { x: box.x + PAD + n[3] * (NODE_W + COL_GAP), y: box.y + TITLE + n[4] * (NODE_H + ROW_GAP) };
    });
    return { boxes: boxes, places: places, width: width + 8, height: Math.max(y, 10) };
  }

  function drawGraph(graph, image, parent) {
    var caption = image === "before" ? "requires this rollback removed" : "requires as written";
    el("h4", "Dependency graph (" + caption + ")", null, parent);
    if (!graph.nodes.length) {
      el("p", "No resource row in this plan.", "meta", parent);
      return;
    }
    var at = layout(graph);
    var root = svg("svg", { "class": "graph", width: at.width, height: at.height, viewBox: "0 0 " + at.width + " " + at.height, role: "img" });
    svg("title", {}, root).textContent = "dependency graph";
    at.boxes.forEach(function (box) {
      var g = svg("g", { "class": "stack", "data-stack-id": box.id }, root);
      svg("rect", { "class": "group", x: box.x, y: box.y, width: box.w, height: box.h, rx: 6 }, g);
      svg("text", { "class": "group-title", x: box.x + 8, y: box.y + 15 }, g).textContent = box.name;
    });
    var edges = svg("g", { "class": "edges" }, root);
    graph.edges.forEach(function (e) {
      var from = at.places[e[0]], to = at.places[e[1]];
      var x1 = from.x, y1 = from.y + NODE_H / 2, x2 = to.x + NODE_W, y2 = to.y + NODE_H / 2;
      if (x2 > x1) { x1 = from.x + NODE_W / 2; y1 = from.y + NODE_H; x2 = to.x + NODE_W / 2; y2 = to.y; }
      var bend = Math.max(Math.abs(x1 - x2) / 2, 20);
      var d = "M" + x1 + "," + y1 + " C" + (x1 - bend) + "," + y1 + " " + (x2 + bend) + "," + y2 + " " + x2 + "," + y2;
      var path = svg("path", { "class": "edge edge-" + e[2], d: d, "marker-end": "url(#arrow-" + e[2] + ")", "data-kind": KIND[e[2]] }, edges);
      svg("title", {}, path).textContent = graph.nodes[e[0]][1] + " requires " + graph.nodes[e[1]][1] + " (" + KIND[e[2]] + ")";
    });
    graph.nodes.forEach(function (n, i) {
      var p = at.places[i];
      var g = svg("g", { "class": "node", "data-id": n[0] }, root);
      svg("title", {}, g).textContent = n[1] + " (resource id " + n[0] + ")";
      svg("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H }, g);
      svg("text", { x: p.x + 6, y: p.y + 16 }, g).textContent = shortLabel(n[1]);
    });
    parent.appendChild(root);
  }

  function drawChanges(groups, parent) {
    el("h4", "Row changes (before \u2192 after; secrets as sha256 digests)", null, parent);
    var table = el("table", null, "changes", parent);
    var head = el("tr", null, null, el("thead", null, null, table));
    ["table", "key", "op", "column", "before", "after"].forEach(function (h) { el("th", h, null, head); });
    var body = el("tbody", null, null, table);
    groups.forEach(function (g) {
      g[3].forEach(function (c, i) {
        var tr = el("tr", null, i === 0 ? "first" : null, body);
        el("td", i === 0 ? g[0] : "", null, tr);
        el("td", i === 0 ? g[1] : "", null, tr);
        el("td", i === 0 ? g[2] : "", "op-" + g[2], tr);
        el("td", c[0], null, tr);
        el("td", c[1], null, tr);
        el("td", c[2], null, tr);
      });
    });
  }

  function draw(details) {
    if (details.getAttribute("data-drawn")) { return; }
    details.setAttribute("data-drawn", "1");
    var source = details.querySelector("script.data");
    var target = details.querySelector(".drawing");
    if (!source || !target) { return; }
    var data = JSON.parse(source.textContent);
    drawGraph(data.graph, data.image, target);
    drawChanges(data.changes, target);
  }

  function trees() { return Array.prototype.slice.call(document.querySelectorAll("details.tree")); }

  function openAll() {
    trees().forEach(function (d) { if (!d.hidden) { d.open = true; draw(d); } });
  }

  function filter(text) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, all = trees();
    all.forEach(function (d) {
      var hay = d.getAttribute("data-search") || "";
      d.hidden = !words.every(function (w) { return hay.indexOf(w) >= 0; });
      if (!d.hidden) { shown += 1; }
    });
    document.getElementById("shown").textContent = words.length ? shown + " of " + all.length + " trees" : all.length + " trees";
  }

  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (d && d.classList && d.classList.contains("tree") && d.open) { draw(d); }
  }, true);
  document.getElementById("open-all").addEventListener("click", openAll);
  document.getElementById("close-all").addEventListener("click", function () { trees().forEach(function (d) { d.open = false; }); });
  document.getElementById("filter").addEventListener("input", function (e) { filter(e.target.value); });
  window.addEventListener("beforeprint", function () { if (trees().length <= PRINT_LIMIT) { openAll(); } });
  filter("");
  if (location.hash === "#all") {
    openAll();
  } else if (location.hash.indexOf("#tree-") === 0) {
    var one = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (one) { one.open = true; draw(one); one.scrollIntoView(); }
  }
}());
