// Dashboard charts (ECharts): follow-ups planned and done per week, open alerts by team.
// Loaded as a file (CSP); the figures come in the page's JSON (#dashboard-data).
(function () {
  "use strict";

  function weekly(el, data) {
    return {
      animation: false,
      grid: { left: 40, right: 16, top: 32, bottom: 32 },
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { type: "bar", name: el.dataset.labelPlanned, data: data.planned, itemStyle: { color: "#a5b4c7" } },
        { type: "bar", name: el.dataset.labelDone, data: data.done, itemStyle: { color: "#206bc4" } },
      ],
    };
  }

  function alerts(el, data) {
    return {
      animation: false,
      grid: { left: 120, right: 24, top: 16, bottom: 24 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.labels, inverse: true },
      series: [{ type: "bar", name: el.dataset.labelAlerts, data: data.counts, itemStyle: { color: "#d63939" } }],
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("dashboard-data");
    if (!source || typeof echarts === "undefined") return;
    const data = JSON.parse(source.textContent);
    const builders = { weekly: weekly, alerts: alerts };
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      const series = data[el.dataset.chart];
      if (!series.labels.length) {
        el.classList.add("dashboard-chart-empty");
        el.textContent = el.dataset.empty;
        return;
      }
      const chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(builders[el.dataset.chart](el, data[el.dataset.chart]));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  });
})();
