// The status page's latency chart: the last few minutes of ping round trips on a <canvas>, over the
// troubleshooting guide's bands (Excellent < 50 ms, Good < 150, Fair < 300, Poor above). No library.
// `points` ({t: epoch ms, ms}) is the chart's data and `drawn` where the last draw put the bands (CSS
// pixels), read by tests and by anyone at the console.
(function (global) {
  "use strict";
  const BANDS = [
    { below: 50, label: "Excellent", fill: "#dafbe1" },
    { below: 150, label: "Good", fill: "#eef6d6" },
    { below: 300, label: "Fair", fill: "#fff1c2" },
    { below: Infinity, label: "Poor", fill: "#ffe0dc" },
  ];
  const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

  function SwarmChart(canvas, windowSeconds, gapMs) {
    this.canvas = canvas;
    this.windowSeconds = windowSeconds;
    this.gapMs = gapMs; // points further apart than this are not joined: the connection was down
    this.bands = BANDS.slice(0, 3).map((band) => band.below);
    this.points = [];
    this.drawn = null; // {top: ms at the plot's top, plot: {left, right, top, bottom}, bands: [{below, y, fill}]}
  }

  SwarmChart.prototype.add = function (ms, t) {
    const now = t === undefined ? Date.now() : t;
    this.points.push({ t: now, ms: ms });
    const oldest = now - this.windowSeconds * 1000;
    while (this.points.length && this.points[0].t < oldest) this.points.shift();
    this.draw(now);
  };

  SwarmChart.prototype.draw = function (now) {
    const canvas = this.canvas;
    const ratio = global.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const peak = this.points.reduce((max, p) => Math.max(max, p.ms), 0);
    const top = Math.max(400, Math.ceil((peak * 1.1) / 100) * 100); // the Poor band always shows
    const y = (ms) => PAD.top + plotH - (Math.min(ms, top) / top) * plotH;
    const start = now - this.windowSeconds * 1000;
    const x = (t) => PAD.left + ((t - start) / (this.windowSeconds * 1000)) * plotW;

    this.drawn = { top: top, plot: { left: PAD.left, right: PAD.left + plotW, top: PAD.top, bottom: PAD.top + plotH }, bands: [] };
    let floor = 0;
    ctx.font = "11px system-ui, sans-serif";
    for (const band of BANDS) {
      const ceiling = Math.min(band.below, top);
      ctx.fillStyle = band.fill;
      ctx.fillRect(PAD.left, y(ceiling), plotW, y(floor) - y(ceiling));
      this.drawn.bands.push({ below: band.below === Infinity ? null : band.below, y: y(ceiling), fill: band.fill });
      if (band.below !== Infinity) {
        ctx.fillStyle = "#57606a";
        ctx.textAlign = "right";
        ctx.fillText(band.below + " ms", PAD.left - 4, y(band.below) + 4);
      }
      floor = ceiling;
    }
    ctx.fillStyle = "#57606a";
    const minutes = this.windowSeconds / 60;
    for (let m = 0; m <= minutes; m += 1) {
      ctx.textAlign = m === minutes ? "right" : "center"; // "now" ends at the plot's edge, not past the canvas
      ctx.fillText(m === minutes ? "now" : "-" + (minutes - m) + " min", x(start + m * 60000), height - 4);
    }

    ctx.strokeStyle = "#0969da";
    ctx.fillStyle = "#0969da";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let previous = null;
    for (const point of this.points) {
      const px = x(point.t);
      const py = y(point.ms);
      if (previous && point.t - previous.t <= this.gapMs) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      previous = point;
    }
    ctx.stroke();
    for (const point of this.points) ctx.fillRect(x(point.t) - 1.5, y(point.ms) - 1.5, 3, 3);
  };

  global.SwarmChart = SwarmChart;
})(window);
