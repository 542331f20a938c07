"""The report page's own style sheet and script (plotly.js is inlined separately, once).

The script is the segment filter: ticking a learned or classic segment on or off shows or hides
every trace tagged with it (``trace.meta = {segmentation, segment}``) through ``Plotly.restyle``,
and recounts the customers in the ticked segments from the counts table embedded in the page
(``#cs-counts``: customers and revenue per combination of segments).
"""

CSS = """
:root { color-scheme: light; }
body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222;
       background: #f4f6f9; }
header { padding: 14px 22px 6px; background: #fff; border-bottom: 1px solid #dde2ea; }
header h1 { margin: 0 0 2px; font-size: 20px; }
header .caption { margin: 0; color: #555; font-size: 13px; }
#cs-filter { position: sticky; top: 0; z-index: 10; background: #fff; padding: 8px 22px;
             border-bottom: 1px solid #dde2ea; display: flex; flex-wrap: wrap; gap: 6px 22px; align-items: flex-start; }
#cs-filter fieldset { border: 1px solid #dde2ea; border-radius: 6px; margin: 0; padding: 4px 10px 6px;
                      max-width: 100%; }
#cs-filter legend { font-size: 12px; font-weight: 600; color: #444; }
#cs-filter label { font-size: 12px; margin-right: 10px; white-space: nowrap; cursor: pointer; }
#cs-filter .swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin: 0 3px 0 2px; }
#cs-filter button { font-size: 11px; margin-left: 4px; }
#cs-summary { flex-basis: 100%; margin: 2px 0 0; font-size: 14px; font-weight: 600; }
#cs-notes { padding: 6px 22px; font-size: 12px; color: #444; }
#cs-notes p { margin: 3px 0; }
main.cs-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px;
               padding: 10px 22px 28px; }
.cs-panel { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 4px; min-width: 0; }
.cs-panel.wide { grid-column: 1 / -1; }
footer { padding: 0 22px 20px; font-size: 11px; color: #777; }
"""

JS = """
(function () {
  var counts = JSON.parse(document.getElementById('cs-counts').textContent);
  var summary = document.getElementById('cs-summary');
  var fmt = function (v) { return Math.round(v).toLocaleString('en-US'); };
  function ticked(kind) {
    var set = Object.create(null);  // no inherited keys: a segment may be called "constructor"
    document.querySelectorAll('input.cs-seg[data-segmentation="' + kind + '"]').forEach(function (box) {
      if (box.checked) { set[box.value] = true; }
    });
    return set;
  }
  function update() {
    var sel = Object.create(null);
    counts.kinds.forEach(function (k) { sel[k] = ticked(k); });
    var n = 0, revenue = 0, seen = Object.create(null);
    counts.kinds.forEach(function (k) { seen[k] = Object.create(null); });
    counts.rows.forEach(function (row) {
      var keep = counts.kinds.every(function (k) { return sel[k][row[k]]; });
      if (!keep) { return; }
      n += row.customers; revenue += row.revenue;
      counts.kinds.forEach(function (k) { seen[k][row[k]] = true; });
    });
    var parts = counts.kinds.map(function (k) {
      var m = Object.keys(seen[k]).length;
      return m + ' ' + counts.labels[k] + (m === 1 ? '' : 's');
    });
    summary.textContent = 'Showing ' + fmt(n) + ' of ' + fmt(counts.total) + ' customers in ' +
      parts.join(' and ') + ' \\u00b7 net revenue ' + fmt(revenue) + ' ' + counts.currency;
    summary.dataset.customers = String(n);
    document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
      var idx = [], vis = [];
      (gd.data || []).forEach(function (trace, i) {
        var m = trace.meta;
        if (m && m.segmentation && sel[m.segmentation]) { idx.push(i); vis.push(!!sel[m.segmentation][m.segment]); }
      });
      if (idx.length) { Plotly.restyle(gd, {visible: vis}, idx); }
    });
  }
  document.querySelectorAll('input.cs-seg').forEach(function (box) { box.addEventListener('change', update); });
  document.querySelectorAll('button.cs-all').forEach(function (button) {
    button.addEventListener('click', function () {
      var on = button.dataset.action === 'all';
      document.querySelectorAll('input.cs-seg[data-segmentation="' + button.dataset.segmentation + '"]')
        .forEach(function (box) { box.checked = on; });
      update();
    });
  });
})();
"""
