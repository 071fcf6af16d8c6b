// storage-jobs dashboard: keeps a server-rendered page current by polling its JSON API.
// The page names its API in <body data-api>; elements name a value with data-bind (a path in
// the answer) or, inside a [data-row] element, data-field (a field, or a path, of the matching row).
"use strict";

(function () {
  const POLL_MS = 2000;
  const CHART_MS = 30000;

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) {
      return o === null || o === undefined ? undefined : o[k];
    }, obj);
  }

  function age(s) {
    if (s === null || s === undefined) return "";
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = n, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return i === 0 ? v.toLocaleString("en-US") + " B" : v.toFixed(1) + " " + units[i];
  }

  function show(value, fmt) {
    if (value === null || value === undefined) return "";
    if (fmt === "age") return age(value);
    if (fmt === "bytes") return bytes(value);
    if (fmt === "pct") return (value * 100).toFixed(1) + " %";
    if (fmt === "num" && typeof value === "number") {
      return Number.isInteger(value)
        ? value.toLocaleString("en-US")
        : value.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    }
    return String(value);
  }

  function put(el, value) {
    if (value === undefined) return;
    if (el.tagName === "PROGRESS") {
      el.value = value || 0;
      return;
    }
    if (el.dataset.fmt === "flag") {
      el.textContent = value ? el.dataset.true : el.dataset.false;
      el.dataset.state = el.textContent;
      return;
    }
    const text = show(value, el.dataset.fmt);
    el.textContent = text === "" && el.dataset.empty ? el.dataset.empty : text;
    if (el.dataset.state !== undefined) el.dataset.state = el.textContent;
  }

  async function tick() {
    const api = document.body.dataset.api;
    if (!api) return;
    let answer;
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      answer = await response.json();
    } catch (e) {
      return; // the next poll tries again
    }
    document.querySelectorAll("[data-bind]").forEach(function (el) { put(el, get(answer, el.dataset.bind)); });
    const rows = Array.isArray(answer.rows) ? answer.rows : answer.workers;
    const single = answer.progress || null;
    document.querySelectorAll("[data-row]").forEach(function (row) {
      const key = row.dataset.rowKey;
      let item = Array.isArray(rows) ? rows.find(function (r) { return r[key] === row.dataset.row; }) : undefined;
      if (!item && single && single[key] === row.dataset.row) item = single;
      if (!item) return;
      row.querySelectorAll("[data-field]").forEach(function (el) { put(el, get(item, el.dataset.field)); });
    });
    document.body.dataset.polled = String(Date.now());
  }

  function refreshChart() {
    const chart = document.getElementById("history-chart");
    if (chart) chart.src = document.body.dataset.base + "/chart.svg?t=" + Date.now();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setInterval(tick, POLL_MS);
    setInterval(refreshChart, CHART_MS);
  });
})();
