// Trend charts (ECharts): an indicator's values over time, the reference band shaded,
// abnormal points in red. Loaded as a file (CSP); data comes from the JSON view.
(function () {
  "use strict";

  function render(el, data) {
    const chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
    const points = data.points.map(function (p) {
      return {
        value: [p.t, p.value],
        itemStyle: p.abnormal ? { color: "#d63939" } : undefined,
        symbolSize: p.abnormal ? 10 : 6,
      };
    });
    const band = data.band;
    let edges = band ? [band.low, band.high].filter(function (x) { return x !== null; }) : [];
    let markArea;
    if (edges.length) {
      // A band with one edge is open on the other side: shaded from the edge past every
      // value that way ("min"/"max" would be the values' own, shading the stretch between
      // the edge and the nearest value, out of range, as the range).
      const all = data.points.map(function (p) { return p.value; })
        .filter(function (v) { return v !== null; }).concat(edges).map(Number);
      const lo = Math.min.apply(null, all);
      const hi = Math.max.apply(null, all);
      const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
      const low = band.low === null ? lo - pad : band.low;
      const high = band.high === null ? hi + pad : band.high;
      edges = [low, high];
      markArea = {
        silent: true,
        itemStyle: { color: "rgba(47, 179, 68, 0.12)" },
        // Inside the band: above its top edge (the chart's top when readings are in
        // range) the label covered the title.
        label: { position: "insideTopRight", color: "#2f7d3a" },
        data: [[{ yAxis: low, name: el.dataset.labelBand }, { yAxis: high }]],
      };
    }
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 32, bottom: 32 },
      tooltip: { trigger: "axis" },
      title: { text: data.name + (data.unit ? " (" + data.unit + ")" : ""), left: "center",
               textStyle: { fontSize: 13 } },
      xAxis: { type: "time" },
      // The band's edges within the axis, so values are read against it (an axis fitted
      // to the values alone left a band of 90–139 below points of 141–150 out of sight).
      yAxis: { type: "value", scale: true,
               min: function (v) { return Math.min.apply(null, [v.min].concat(edges)); },
               max: function (v) { return Math.max.apply(null, [v.max].concat(edges)); } },
      series: [{ type: "line", name: data.name, data: points, markArea: markArea,
                 lineStyle: { color: "#0f766e" }, itemStyle: { color: "#0f766e" } }],
    }, true);
  }

  function load(el, url) {
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) { render(el, data); el.dataset.loaded = data.points.length; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-trend-url]").forEach(function (el) {
      load(el, el.dataset.trendUrl);
    });
    document.querySelectorAll("[data-trend-select]").forEach(function (select) {
      select.addEventListener("change", function () {
        load(document.querySelector(select.dataset.trendSelect), select.value);
      });
    });
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-trend-url]").forEach(function (el) {
        const chart = echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
  });
})();
