/* A price ladder in SVG: the live last price and trigger levels on one vertical axis.
 *
 *   const ladder = OMS.ladder(svgElement);
 *   ladder.draw({ last: "100.05", triggers: [{ value: "95", label: "SL", direction: "down" }] });
 *
 * Numbers arrive as decimal strings; they are only turned into floats to place pixels. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 400;
  const H = 260;
  const PAD = 18;

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { n.setAttribute(k, v); });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function niceStep(span) {
    const raw = span / 6;
    const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  function ladder(svg) {
    let state = { last: null, triggers: [] };

    function draw(next) {
      state = Object.assign({}, state, next || {});
      const last = state.last === null || state.last === undefined ? null : parseFloat(state.last);
      const values = state.triggers.map(function (t) { return parseFloat(t.value); }).filter(function (v) { return !isNaN(v); });
      if (last !== null && !isNaN(last)) values.push(last);
      svg.replaceChildren();
      if (!values.length) {
        svg.appendChild(node("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick-label" }, "Pick a symbol and enter trigger prices"));
        return;
      }
      let lo = Math.min.apply(null, values);
      let hi = Math.max.apply(null, values);
      const pad = Math.max((hi - lo) * 0.15, Math.abs(hi) * 0.01, 0.01);
      lo -= pad;
      hi += pad;
      const y = function (v) { return PAD + ((hi - v) / (hi - lo)) * (H - 2 * PAD); };
      const step = niceStep(hi - lo);
      svg.appendChild(node("line", { x1: 60, y1: PAD, x2: 60, y2: H - PAD, class: "axis" }));
      for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
        svg.appendChild(node("line", { x1: 56, y1: y(v), x2: 60, y2: y(v), class: "axis" }));
        svg.appendChild(node("text", { x: 52, y: y(v) + 4, "text-anchor": "end", class: "tick-label" }, String(+v.toFixed(6))));
      }
      if (last !== null && !isNaN(last) && state.triggers.length) {
        state.triggers.forEach(function (t) {
          const v = parseFloat(t.value);
          if (isNaN(v)) return;
          const top = Math.min(y(v), y(last));
          svg.appendChild(node("rect", { x: 62, y: top, width: W - 70, height: Math.abs(y(v) - y(last)), class: "band" }));
        });
      }
      state.triggers.forEach(function (t) {
        const v = parseFloat(t.value);
        if (isNaN(v)) return;
        const dir = t.direction || (last !== null && v <= last ? "down" : "up");
        svg.appendChild(node("line", { x1: 62, y1: y(v), x2: W - 8, y2: y(v), class: "trigger-line " + dir, "data-value": t.value }));
        svg.appendChild(node("text", { x: W - 10, y: y(v) - 5, "text-anchor": "end", class: "trigger-label " + dir }, (t.label ? t.label + " " : "") + t.value + (dir === "down" ? " ↓" : " ↑")));
      });
      if (last !== null && !isNaN(last)) {
        svg.appendChild(node("line", { x1: 62, y1: y(last), x2: W - 8, y2: y(last), class: "last-line", "data-value": state.last }));
        svg.appendChild(node("text", { x: 68, y: y(last) - 5, class: "last-label", id: "ladder-last" }, "last " + state.last));
      }
    }

    draw();
    return { draw: draw, state: function () { return state; } };
  }

  window.OMS = window.OMS || {};
  window.OMS.ladder = ladder;
})();
