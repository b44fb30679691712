/* Tiny canvas charts for the dashboard: no build step, no dependency.
 * lineChart(canvas, {times, series: [{name, color, values, dash}], unit})
 * barChart(canvas, [{label, value, color, caption}], max)
 * Each draw records what it drew on the canvas element (data-series, data-points,
 * data-updates) so a browser test can check the charts without reading pixels. */
(function () {
  "use strict";
  const PAD = { left: 52, right: 12, top: 22, bottom: 26 };

  function setup(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    return { ctx, width, height };
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const exp = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (value <= step * exp) return step * exp;
    }
    return 10 * exp;
  }

  function format(value) {
    if (value >= 100) return value.toFixed(0);
    if (value >= 10) return value.toFixed(1);
    return value.toFixed(2);
  }

  function record(canvas, names, points, perSeries) {
    canvas.dataset.series = names.join(",");
    canvas.dataset.seriesPoints = JSON.stringify(perSeries || {});
    canvas.dataset.points = String(points);
    canvas.dataset.updates = String(Number(canvas.dataset.updates || 0) + 1);
  }

  function lineChart(canvas, spec) {
    const { ctx, width, height } = setup(canvas);
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    let max = spec.yMax || 0;
    let points = 0;
    for (const s of spec.series) {
      for (const v of s.values) {
        if (v !== null && v !== undefined) { max = Math.max(max, v); points += 1; }
      }
    }
    max = spec.yMax || niceMax(max * 1.1);
    const n = spec.times.length;
    const x = (i) => PAD.left + (n <= 1 ? plotW : (i / (n - 1)) * plotW);
    const y = (v) => PAD.top + plotH - (v / max) * plotH;

    ctx.strokeStyle = "#243140";
    ctx.fillStyle = "#8b98a5";
    ctx.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      ctx.beginPath();
      ctx.moveTo(PAD.left, y(v));
      ctx.lineTo(width - PAD.right, y(v));
      ctx.stroke();
      ctx.fillText(format(v) + (spec.unit || ""), 4, y(v) + 4);
    }
    if (n > 0) {
      for (const i of [0, Math.floor((n - 1) / 2), n - 1]) {
        const t = new Date(spec.times[i]);
        ctx.fillText(t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
          Math.min(x(i) - 24, width - 60), height - 8);
      }
    }
    let legendX = PAD.left;
    for (const s of spec.series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 2;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let drawing = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { drawing = false; return; }
        if (!drawing) { ctx.moveTo(x(i), y(v)); drawing = true; } else { ctx.lineTo(x(i), y(v)); }
        if (n === 1 || isolated(s.values, i)) { ctx.fillStyle = s.color; ctx.fillRect(x(i) - 2, y(v) - 2, 4, 4); }
      });
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = s.color;
      ctx.fillRect(legendX, 6, 10, 10);
      ctx.fillStyle = "#e6edf3";
      ctx.fillText(s.name, legendX + 14, 15);
      legendX += ctx.measureText(s.name).width + 30;
    }
    if (points === 0) {
      ctx.fillStyle = "#8b98a5";
      ctx.fillText("no traffic in this window yet", PAD.left + plotW / 2 - 70, PAD.top + plotH / 2);
    }
    const perSeries = {};
    for (const s of spec.series) {
      perSeries[s.name] = s.values.filter((v) => v !== null && v !== undefined).length;
    }
    record(canvas, spec.series.map((s) => s.name), points, perSeries);
  }

  function isolated(values, i) {
    const prev = i > 0 ? values[i - 1] : null;
    const next = i < values.length - 1 ? values[i + 1] : null;
    return (prev === null || prev === undefined) && (next === null || next === undefined);
  }

  function barChart(canvas, bars, max) {
    const { ctx, width, height } = setup(canvas);
    const rowH = Math.min(26, (height - 10) / Math.max(1, bars.length));
    const labelW = 150;
    const plotW = width - labelW - 70;
    bars.forEach((bar, i) => {
      const top = 5 + i * rowH;
      ctx.fillStyle = "#e6edf3";
      ctx.fillText(bar.label, 4, top + rowH / 2 + 4);
      ctx.fillStyle = "#243140";
      ctx.fillRect(labelW, top + 4, plotW, rowH - 8);
      ctx.fillStyle = bar.color;
      ctx.fillRect(labelW, top + 4, (Math.max(0, Math.min(max, bar.value)) / max) * plotW, rowH - 8);
      ctx.fillStyle = "#8b98a5";
      ctx.fillText(bar.caption, labelW + plotW + 6, top + rowH / 2 + 4);
    });
    record(canvas, bars.map((b) => b.label), bars.length);
  }

  window.BistroCharts = { lineChart, barChart };
})();
