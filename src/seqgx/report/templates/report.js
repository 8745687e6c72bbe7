"use strict";
// seqgx report: hover and click on the PNG scatter plots, the sortable and filterable gene table, downloads.
// Nothing here fetches anything; the page's Content-Security-Policy forbids it anyway.
(function () {
  const byId = (id) => document.getElementById(id);
  const readJSON = (id) => { const el = byId(id); return el ? JSON.parse(el.textContent) : null; };
  const table = readJSON("gene-table-data");
  const pages = (table && table.pages) || {};
  const tip = byId("tooltip");
  const fmt = (v) => v === null || v === undefined ? "NA" :
    typeof v === "number" ? (Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(2)
      : String(+v.toPrecision(3))) : String(v);

  // A plotted point names its row of the gene table: gene, readout and the numbers of the tooltip.
  const geneOf = (i) => table.rows[i][table.columns.indexOf("gene_id")];
  function describe(i) {
    const row = table.rows[i], get = (n) => row[table.columns.indexOf(n)];
    return [`<b>${esc(get("gene_name") ?? get("gene_id"))}</b> ${esc(get("gene_id"))}`, esc(get("readout_name")),
            `R ${fmt(get("r"))}, null p ${fmt(get("null_p"))}, FDR ${fmt(get("fdr"))}`,
            pages[get("gene_id")] ? "click: open the gene page" : "no gene page"].join("<br>");
  }
  function esc(s) { const d = document.createElement("div"); d.textContent = String(s); return d.innerHTML; }

  // ---- hover / click on PNG scatters: the points' pixel positions come from matplotlib ----
  document.querySelectorAll("img[data-points]").forEach((img) => {
    const pts = readJSON(img.dataset.points);
    if (!pts || !pts.x.length || !table) return;
    const cell = 24, grid = new Map();
    pts.x.forEach((x, i) => {
      const k = Math.floor(x / cell) + "," + Math.floor(pts.y[i] / cell);
      if (!grid.has(k)) grid.set(k, []);
      grid.get(k).push(i);
    });
    img.classList.add("hover");
    img.dataset.ready = "1";
    const nearest = (ev) => {
      const rect = img.getBoundingClientRect();
      const s = pts.w / rect.width;
      const px = (ev.clientX - rect.left) * s, py = (ev.clientY - rect.top) * s;
      const radius = Math.max(8 * s, 8);
      let best = -1, bestD = radius * radius;
      const cx = Math.floor(px / cell), cy = Math.floor(py / cell), span = Math.ceil(radius / cell);
      for (let gx = cx - span; gx <= cx + span; gx++) for (let gy = cy - span; gy <= cy + span; gy++) {
        for (const i of grid.get(gx + "," + gy) || []) {
          const d = (pts.x[i] - px) ** 2 + (pts.y[i] - py) ** 2;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
      return best;
    };
    img.addEventListener("mousemove", (ev) => {
      const i = nearest(ev);
      if (i < 0) { tip.style.display = "none"; img.style.cursor = "crosshair"; return; }
      tip.innerHTML = describe(pts.row[i]);
      tip.style.display = "block";
      tip.style.left = ev.clientX + 14 + "px";
      tip.style.top = ev.clientY + 12 + "px";
      img.style.cursor = pages[geneOf(pts.row[i])] ? "pointer" : "crosshair";
    });
    img.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    img.addEventListener("click", (ev) => {
      const i = nearest(ev);
      if (i >= 0 && pages[geneOf(pts.row[i])]) window.location.href = pages[geneOf(pts.row[i])];
    });
  });

  // ---- the gene table ----
  const tbl = byId("gene-table");
  if (table && tbl) {
    const cols = table.columns, body = tbl.tBodies[0];
    const filter = byId("gene-filter"), sigOnly = byId("sig-only"), more = byId("more-rows"), count = byId("row-count");
    const numeric = cols.map((c, j) => table.rows.some((r) => typeof r[j] === "number"));
    const gi = cols.indexOf("gene_id"), ni = cols.indexOf("gene_name"), si = cols.indexOf("significant");
    let order = table.rows.map((_, i) => i), shown = [], limit = 100, sortCol = -1, sortDir = 1;
    const text = table.rows.map((r) => r.filter((v) => typeof v === "string").join(" ").toLowerCase());
    function apply() {
      const q = filter.value.trim().toLowerCase(), sig = sigOnly.checked;
      shown = order.filter((i) => (!sig || table.rows[i][si] === true) && (!q || text[i].includes(q)));
      draw();
    }
    function draw() {
      const frag = document.createDocumentFragment();
      for (const i of shown.slice(0, limit)) {
        const row = table.rows[i], tr = document.createElement("tr");
        if (si >= 0 && row[si] === true) tr.className = "sig";
        row.forEach((v, j) => {
          const td = document.createElement("td");
          if (numeric[j]) td.className = "num";
          if (j === ni && pages[row[gi]]) {
            const a = document.createElement("a");
            a.href = pages[row[gi]]; a.textContent = v ?? row[gi];
            td.appendChild(a);
          } else td.textContent = j === si ? (v ? "yes" : "no") : fmt(v);
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      }
      body.replaceChildren(frag);
      count.textContent = `${Math.min(limit, shown.length).toLocaleString()} of ${shown.length.toLocaleString()} rows shown`
        + (shown.length < table.rows.length ? ` (${table.rows.length.toLocaleString()} in all)` : "");
      more.style.display = shown.length > limit ? "" : "none";
    }
    tbl.tHead.querySelectorAll("th").forEach((th, j) => th.addEventListener("click", () => {
      sortDir = sortCol === j ? -sortDir : (numeric[j] ? -1 : 1);
      sortCol = j;
      const key = (v) => v === null || v === undefined || (typeof v === "number" && isNaN(v));
      order = order.slice().sort((a, b) => {
        const x = table.rows[a][j], y = table.rows[b][j];
        if (key(x) || key(y)) return key(x) - key(y);  // missing values last in either direction
        return (numeric[j] ? x - y : String(x).localeCompare(String(y))) * sortDir;
      });
      tbl.tHead.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(sortDir > 0 ? "sorted-asc" : "sorted-desc");
      apply();
    }));
    filter.addEventListener("input", apply);
    sigOnly.addEventListener("change", apply);
    more.addEventListener("click", () => { limit += 200; draw(); });
    const shownTsv = byId("download-shown");
    if (shownTsv) shownTsv.addEventListener("click", () => {
      const lines = [cols.join("\t")].concat(shown.map((i) => table.rows[i].map((v) => v ?? "NA").join("\t")));
      save(new Blob([lines.join("\n") + "\n"], { type: "text/tab-separated-values" }), "genes_shown.tsv");
    });
    apply();
  }

  // ---- full tables embedded as gzip + base64, unpacked by the browser itself ----
  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }
  document.querySelectorAll("a[data-gz]").forEach((a) => {
    if (typeof DecompressionStream === "undefined") return;  // keep the link to data/ beside the page
    a.addEventListener("click", async (ev) => {
      const b64 = byId(a.dataset.gz).textContent.trim();
      if (!b64) return;
      ev.preventDefault();
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      save(await new Response(stream).blob(), a.dataset.name);
    });
  });
})();
