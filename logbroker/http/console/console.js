// The logbroker console: hash-routed pages rendered from the public HTTP API.
//   #/                        overview (identity, counts, disk, live rate charts, latency percentiles)
//   #/topics                  topics (filter, sort, pages; create, delete)
//   #/topics/NAME             topic detail (partitions page by page, add partitions, configs, consuming groups)
//   #/browse/NAME             message browser (offset, timestamp, live tail, key search; produce)
//   #/groups                  consumer groups
//   #/groups/ID               group detail (members, offsets and lag, lag chart, reset offsets; for a share
//                             group its share-partitions: start offset, records in flight by state, deliveries;
//                             the group's configs, editable)
import { api, del, enc, get, patch, post, query } from "./api.js";
import { lineChart } from "./chart.js";
import { bytes, h, ms, num, time, toast } from "./dom.js";
import { exportable, keyMatches, render } from "./records.js";

const main = document.getElementById("main");
const REFRESH_MS = 2000;
const TOPICS_PAGE = 50;
const PARTITIONS_PAGE = 100;
const GROUPS_PAGE = 50;
const MEMBERS_PAGE = 50;
const RECORDS_PAGE = 50;
const SEARCH_BOUND = 10000;

let current = null; // the page on screen: { stop(), pageBy(delta), refresh() }

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [pathPart, queryPart] = hash.split("?");
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(queryPart ?? "");
  return { parts, params };
}

function setHashParams(params) {
  const base = location.hash.replace(/^#/, "").split("?")[0] || "/";
  const q = params.toString();
  history.replaceState(null, "", `#${base}${q ? `?${q}` : ""}`);
}

async function show() {
  if (current?.stop) current.stop();
  current = null;
  const { parts, params } = route();
  const section = parts[0] ?? "overview";
  for (const a of document.querySelectorAll("nav a")) {
    const active = a.dataset.nav === (section === "browse" ? "topics" : section);
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    if (section === "overview") current = await overviewPage();
    else if (section === "topics" && parts.length === 1) current = await topicsPage(params);
    else if (section === "topics") current = await topicPage(parts[1], params);
    else if (section === "browse") current = await browsePage(parts[1], params);
    else if (section === "groups" && parts.length === 1) current = await groupsPage(params);
    else if (section === "groups") current = await groupPage(parts[1], params);
    else {
      main.replaceChildren(h("h1", null, "Not found"), h("p", null, h("a", { href: "#/" }, "Overview")));
      current = {};
    }
  } catch (err) {
    main.replaceChildren(h("h1", null, "Error"), h("p", { class: "error" }, `${err.code ?? ""} ${err.message}`));
    current = { error: err };
  }
  document.title = `${main.querySelector("h1")?.textContent ?? "console"} · logbroker`;
}

function poller(fn, every = REFRESH_MS) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (err) { if (!stopped) toast(`${err.code ?? "error"}: ${err.message}`, true); }
    if (!stopped) timer = setTimeout(tick, every);
  };
  timer = setTimeout(tick, every);
  return () => { stopped = true; clearTimeout(timer); };
}

function table(headers, rows, opts = {}) {
  return h("div", { class: "table-wrap" }, h("table", { id: opts.id },
    h("thead", null, h("tr", null, headers.map((hd) => {
      const cls = hd.num ? "num" : hd.cls;
      if (!hd.sort) return h("th", { class: cls, scope: "col" }, hd.label);
      const active = opts.sort === hd.sort;
      const arrow = active ? (opts.order === "desc" ? " ▼" : " ▲") : "";
      return h("th", { class: cls, scope: "col", "aria-sort": active ? (opts.order === "desc" ? "descending" : "ascending") : null },
        h("button", { class: "sort", type: "button", onclick: () => opts.onSort(hd.sort) }, hd.label + arrow));
    }))),
    h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: headers.length, class: "muted" }, opts.empty ?? "None")))));
}

function pager(offset, limit, total, go) {
  const last = Math.max(0, Math.ceil(total / limit) - 1);
  const page = Math.floor(offset / limit);
  return h("div", { class: "pager" },
    h("button", { type: "button", class: "secondary", disabled: page <= 0, onclick: () => go(Math.max(0, offset - limit)), "aria-label": "Previous page" }, "‹ Prev"),
    h("span", { class: "muted" }, total ? `${num(offset + 1)}–${num(Math.min(total, offset + limit))} of ${num(total)}` : "0 items"),
    h("button", { type: "button", class: "secondary", disabled: page >= last, onclick: () => go(offset + limit), "aria-label": "Next page" }, "Next ›"));
}

function card(label, value, id, cls = "") {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: `value ${cls}`, id }, value));
}

function failed(err) {
  toast(`${err.code ?? "error"}: ${err.message}`, true);
}

// ------------------------------------------------------------------------------------------ overview
async function overviewPage() {
  const root = h("div");
  main.replaceChildren(h("h1", null, "Overview"), root);
  const draw = async () => {
    const s = await get("/stats");
    const times = s.rates.samples.map((x) => x.time_ms);
    const col = (k) => s.rates.samples.map((x) => x[k]);
    const perS = (f) => (v) => `${f(v)}/s`;
    const used = s.disk.total_bytes - s.disk.free_bytes;
    root.replaceChildren(
      h("div", { class: "cards" },
        card("Status", s.status, "ov-status"),
        card("Node / cluster", `${s.node_id} · ${s.cluster_id}`, null, "small"),
        card("Brokers", num(s.brokers.length)),
        card("Topics", num(s.topics), "ov-topics"),
        card("Partitions", num(s.partitions), "ov-partitions"),
        card("Groups", num(s.groups), "ov-groups"),
        card("Log data", bytes(s.disk.log_bytes), "ov-disk"),
        card("Disk used / free", `${bytes(used)} / ${bytes(s.disk.free_bytes)}`, null, "small")),
      h("h2", null, `Rates (last ${Math.round((s.rates.window * s.rates.interval_ms) / 60000)} minutes, every ${s.rates.interval_ms / 1000} s)`),
      h("div", { class: "charts" },
        lineChart("Messages per second", times, [{ name: "in (all topics)", values: col("records_in") }, { name: "out (HTTP)", values: col("records_out") }], perS(num)),
        lineChart("Bytes per second", times, [{ name: "in", values: col("bytes_in") }, { name: "out", values: col("bytes_out") }], perS(bytes))),
      h("h2", null, "Request latency per API"),
      table([{ label: "Front" }, { label: "API" }, { label: "Requests", num: true }, { label: "p50", num: true },
        { label: "p90", num: true }, { label: "p99", num: true }, { label: "p99.9", num: true }],
      s.latency.map((r) => h("tr", null, h("td", null, r.front), h("td", null, r.name), h("td", { class: "num" }, num(r.count)),
        ...["p50_ms", "p90_ms", "p99_ms", "p999_ms"].map((k) => h("td", { class: "num" }, r[k] === null ? "–" : `${num(r[k])} ms`)))),
      { id: "latency", empty: "No requests yet" }),
      h("p", { class: "muted" }, "Percentiles are interpolated from the latency histograms of ", h("a", { href: "/metrics" }, "/metrics"), "."));
  };
  await draw();
  return { stop: poller(draw), refresh: draw };
}

// ------------------------------------------------------------------------------------------ topics
async function topicsPage(params) {
  const state = { offset: Number(params.get("offset") ?? 0), filter: params.get("filter") ?? "",
    sort: params.get("sort") ?? "name", order: params.get("order") ?? "asc" };
  const filter = h("input", { type: "search", id: "topic-filter", placeholder: "Filter by name  (/)", value: state.filter, "aria-label": "Filter topics" });
  const list = h("div");
  const createForm = h("form", { id: "create-topic", class: "toolbar" },
    h("label", null, "Name", h("input", { name: "name", required: true, pattern: "[a-zA-Z0-9._\\-]+", maxlength: 249 })),
    h("label", null, "Partitions", h("input", { name: "partitions", type: "number", min: 1, value: 1, style: "width:7em" })),
    h("label", null, "Configs (name=value per line)", h("textarea", { name: "configs", rows: 1, cols: 30, placeholder: "retention.ms=86400000" })),
    h("button", { type: "submit" }, "Create topic"));
  createForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(createForm);
    try {
      const created = await post("/topics", { name: f.get("name"), partitions: Number(f.get("partitions") || 1), configs: parseLines(f.get("configs")) });
      toast(`Created ${created.name}`);
      location.hash = `#/topics/${enc(created.name)}`;
    } catch (err) { failed(err); }
  });
  main.replaceChildren(h("h1", null, "Topics"), h("details", null, h("summary", null, "Create a topic"), createForm),
    h("div", { class: "toolbar" }, filter), list);
  const draw = async () => {
    const body = await get(`/stats/topics${query({ offset: state.offset, limit: TOPICS_PAGE, filter: state.filter, sort: state.sort, order: state.order })}`);
    const headers = [{ label: "Name", sort: "name" }, { label: "Partitions", sort: "partitions", num: true },
      { label: "Records", sort: "records", num: true }, { label: "Size", sort: "size_bytes", num: true },
      { label: "Retention", num: true, cls: "hide-narrow" }, { label: "In", sort: "bytes_in_per_s", num: true },
      { label: "Out", sort: "bytes_out_per_s", num: true, cls: "hide-narrow" }, { label: "" }];
    const rows = body.topics.map((t) => h("tr", { dataset: { topic: t.name } },
      h("td", null, h("a", { href: `#/topics/${enc(t.name)}` }, t.name), t.internal ? h("span", { class: "badge" }, " internal") : null),
      h("td", { class: "num" }, num(t.partitions)), atLeast(num(t.records), t.error), atLeast(bytes(t.size_bytes), t.error),
      h("td", { class: "num hide-narrow" }, ms(t.retention_ms)),
      h("td", { class: "num" }, `${bytes(t.bytes_in_per_s)}/s`), h("td", { class: "num hide-narrow" }, `${bytes(t.bytes_out_per_s)}/s`),
      h("td", null, h("a", { href: `#/browse/${enc(t.name)}` }, "Browse"))));
    list.replaceChildren(table(headers, rows, { id: "topics", sort: state.sort, order: state.order, empty: "No topics",
      onSort: (key) => { state.order = state.sort === key && state.order === "asc" ? "desc" : "asc"; state.sort = key; state.offset = 0; save(); draw(); } }),
    pager(state.offset, TOPICS_PAGE, body.total, (o) => { state.offset = o; save(); draw(); }));
    state.total = body.total;
  };
  const save = () => setHashParams(new URLSearchParams(Object.entries({ offset: state.offset, filter: state.filter, sort: state.sort, order: state.order }).filter(([, v]) => v !== "" && v !== 0 && v !== "name" && v !== "asc")));
  let debounce = null;
  filter.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(() => { state.filter = filter.value; state.offset = 0; save(); draw(); }, 150); });
  await draw();
  return {
    stop: poller(draw, 5000), refresh: draw,
    pageBy: (d) => { const o = state.offset + d * TOPICS_PAGE; if (o >= 0 && o < (state.total ?? 0)) { state.offset = o; save(); draw(); } },
  };
}

// A cluster-wide figure some partition's leader could not add to: a lower bound, the reason on hover.
function atLeast(text, error) {
  return error ? h("td", { class: "num partial", title: error }, `≥ ${text}`) : h("td", { class: "num" }, text);
}

function parseLines(text) {
  const out = {};
  for (const line of String(text ?? "").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// ------------------------------------------------------------------------------------------ topic detail
async function topicPage(name, params) {
  const [desc, topic] = await Promise.all([get(`/topics/${enc(name)}/partitions?limit=1`),
    get(`/stats/topics${query({ filter: name, limit: 1000 })}`)]);
  const summary = topic.topics.find((t) => t.name === name) ?? {};
  const state = { offset: Number(params.get("offset") ?? 0) };
  const partitions = h("div");
  const configs = h("div");
  const groupsBox = h("div");
  const addForm = h("form", { id: "add-partitions", class: "toolbar" },
    h("label", null, "New partition count", h("input", { name: "count", type: "number", min: desc.total + 1, value: desc.total + 1, style: "width:8em" })),
    h("button", { type: "submit" }, "Add partitions"));
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await post(`/topics/${enc(name)}/partitions`, { count: Number(new FormData(addForm).get("count")) });
      toast(`${name} now has ${r.partitions} partitions`);
      show();
    } catch (err) { failed(err); }
  });
  const deleteButton = h("button", { type: "button", class: "danger", id: "delete-topic", onclick: async () => {
    if (!confirm(`Delete topic ${name} and all its records?`)) return;
    try { await del(`/topics/${enc(name)}`); toast(`Deleted ${name}`); location.hash = "#/topics"; } catch (err) { failed(err); }
  } }, "Delete topic");
  main.replaceChildren(
    h("h1", null, name),
    h("div", { class: "cards" }, card("Partitions", num(desc.total)),
      card("Records", `${summary.error ? "≥ " : ""}${num(summary.records)}`, "topic-records"),
      card("Size", `${summary.error ? "≥ " : ""}${bytes(summary.size_bytes)}`, "topic-size"),
      card("In", `${bytes(summary.bytes_in_per_s)}/s`), card("Out", `${bytes(summary.bytes_out_per_s)}/s`)),
    ...(summary.error ? [h("p", { class: "error", id: "topic-error" }, `Not counted: ${summary.error}`)] : []),
    h("div", { class: "toolbar" }, h("a", { href: `#/browse/${enc(name)}` }, "Browse messages →"), addForm, deleteButton),
    h("h2", null, "Partitions"), partitions,
    h("h2", null, "Consuming groups"), groupsBox,
    h("h2", null, "Configs"), configs);
  const drawPartitions = async () => {
    const page = await get(`/topics/${enc(name)}/partitions${query({ offset: state.offset, limit: PARTITIONS_PAGE })}`);
    state.total = page.total;
    partitions.replaceChildren(
      table([{ label: "Partition", num: true }, { label: "Start offset", num: true }, { label: "End offset", num: true },
        { label: "Records", num: true }, { label: "Size", num: true }, { label: "Segments", num: true },
        { label: "Leader", num: true, cls: "hide-narrow" }, { label: "Replicas", cls: "hide-narrow" }, { label: "ISR", cls: "hide-narrow" }, { label: "" }],
      page.partitions.map((p) => h("tr", null, h("td", { class: "num" }, p.partition),
        // A partition held by another broker: offsets from its leader, size not known here; unknown when the leader did not answer.
        ...(p.error ? [h("td", { class: "num", colspan: "3", title: p.error }, "leader not answering")]
          : [h("td", { class: "num" }, num(p.log_start_offset)), h("td", { class: "num" }, num(p.log_end_offset)),
            h("td", { class: "num" }, num(p.log_end_offset - p.log_start_offset))]),
        h("td", { class: "num" }, p.size_bytes < 0 ? "–" : bytes(p.size_bytes)), h("td", { class: "num" }, p.segments < 0 ? "–" : p.segments),
        h("td", { class: "num hide-narrow" }, p.leader), h("td", { class: "hide-narrow" }, p.replicas.join(",")), h("td", { class: "hide-narrow" }, p.isr.join(",")),
        h("td", null, h("a", { href: `#/browse/${enc(name)}?partition=${p.partition}&from=start` }, "Browse")))),
      { id: "partitions" }),
      pager(state.offset, PARTITIONS_PAGE, page.total, (o) => { state.offset = o; setHashParams(new URLSearchParams(o ? { offset: o } : {})); drawPartitions(); }));
  };
  const drawConfigs = async () => {
    const d = await get(`/topics/${enc(name)}/configs`);
    configs.replaceChildren(configsEditor(d?.configs ?? [], `/topics/${enc(name)}/configs`, "TOPIC_CONFIG", drawConfigs, "configs"));
  };
  const drawGroups = async () => {
    const g = await get("/stats/groups?limit=1000").catch(() => ({ groups: [] }));
    const consuming = g.groups.filter((x) => x.topics.includes(name)).slice(0, 20);
    const rows = [];
    for (const x of consuming) {
      const d = await get(`/groups/${enc(x.group_id)}`);
      const lag = d.offsets.filter((o) => o.topic === name).reduce((a, o) => a + (o.lag ?? 0), 0);
      rows.push(h("tr", null, h("td", null, h("a", { href: `#/groups/${enc(x.group_id)}` }, x.group_id)),
        h("td", null, h("span", { class: `badge ${x.state}` }, x.state)), h("td", { class: "num" }, x.members), h("td", { class: "num" }, num(lag))));
    }
    groupsBox.replaceChildren(table([{ label: "Group" }, { label: "State" }, { label: "Members", num: true }, { label: "Lag on this topic", num: true }], rows,
      { id: "topic-groups", empty: "No group has committed offsets for this topic" }));
  };
  await Promise.all([drawPartitions(), drawConfigs(), drawGroups()]);
  return {
    stop: poller(async () => { await drawPartitions(); await drawGroups(); }, 5000),
    refresh: () => Promise.all([drawPartitions(), drawConfigs(), drawGroups()]),
    pageBy: (d) => { const o = state.offset + d * PARTITIONS_PAGE; if (o >= 0 && o < state.total) { state.offset = o; drawPartitions(); } },
  };
}

// ------------------------------------------------------------------------------------------ message browser
async function browsePage(name, params) {
  const first = await get(`/topics/${enc(name)}/partitions?limit=1`);
  const form = h("form", { id: "browse", class: "toolbar" },
    h("label", null, "Partition", h("input", { name: "partition", type: "number", min: 0, max: first.total - 1, value: params.get("partition") ?? 0, style: "width:6em" })),
    h("label", null, "From", h("select", { name: "from" },
      [["start", "the beginning"], ["offset", "an offset"], ["timestamp", "a time"], ["end", "the end (live tail)"], ["key", "key search"]]
        .map(([v, l]) => h("option", { value: v, selected: (params.get("from") ?? "start") === v }, l)))),
    h("label", null, "Offset / time / key", h("input", { name: "at", value: params.get("at") ?? "", placeholder: "0, 2026-01-01T00:00, or a key", id: "browse-at" })),
    h("label", null, "Show as", h("select", { name: "format" }, ["auto", "json", "text", "hex", "base64"].map((v) => h("option", { value: v, selected: params.get("format") === v }, v)))),
    h("button", { type: "submit" }, "Read"));
  const status = h("p", { class: "muted", id: "browse-status" });
  const out = h("div", { id: "records" });
  const produceForm = h("form", { id: "produce", class: "grid2" },
    h("label", null, "Key", h("input", { name: "key", placeholder: "(none)" })),
    h("label", null, "Partition", h("input", { name: "partition", type: "number", min: 0, max: first.total - 1, placeholder: "by key / round robin" })),
    h("label", null, "Value", h("textarea", { name: "value", rows: 3 })),
    h("label", null, "Headers (name=value per line)", h("textarea", { name: "headers", rows: 3 })),
    h("div", null, h("button", { type: "submit" }, "Produce")));
  produceForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(produceForm);
    const record = { value: f.get("value") };
    if (f.get("key")) record.key = f.get("key");
    if (f.get("partition") !== "") record.partition = Number(f.get("partition"));
    const headers = Object.entries(parseLines(f.get("headers"))).map(([key, value]) => ({ key, value }));
    if (headers.length) record.headers = headers;
    try {
      const r = await post(`/topics/${enc(name)}/records`, { records: [record] });
      const at = r.records[0];
      toast(`Produced to partition ${at.partition} at offset ${at.offset}`);
      status.textContent = `Produced to partition ${at.partition} at offset ${at.offset}`;
    } catch (err) { failed(err); }
  });
  main.replaceChildren(h("h1", null, `Messages · ${name}`), h("p", null, h("a", { href: `#/topics/${enc(name)}` }, "← topic")),
    form, status, out, h("h2", null, "Produce a record"), h("div", { class: "panel" }, produceForm));

  let tail = null; // AbortController of the live tail
  let nextOffset = null;
  let lastRead = null;
  const stopTail = () => { if (tail) { tail.abort(); tail = null; } };
  const path = (p) => `/topics/${enc(name)}/partitions/${p}/records`;

  const recordRows = (partition, records, fmt) => records.map((r) => {
    const k = render(r.key, fmt);
    const v = render(r.value, fmt);
    const doc = exportable(name, partition, r);
    return h("tr", { dataset: { offset: r.offset } },
      h("td", { class: "num" }, r.offset), h("td", { class: "hide-narrow" }, time(r.timestamp)),
      h("td", { class: "wrap", title: k.format }, k.text), h("td", { class: "wrap", title: v.format }, v.text),
      h("td", { class: "wrap hide-narrow" }, r.headers.map((hd) => `${hd.key}=${render(hd.value, fmt).text}`).join("\n")),
      h("td", null,
        h("button", { type: "button", class: "secondary", title: "Copy as JSON", onclick: () => copy(JSON.stringify(doc, null, 2)) }, "Copy"), " ",
        h("button", { type: "button", class: "secondary", title: "Download as JSON", onclick: () => download(`${name}-${partition}-${r.offset}.json`, JSON.stringify(doc, null, 2)) }, "↓")));
  });
  const recordTable = (rows) => table([{ label: "Offset", num: true }, { label: "Time", cls: "hide-narrow" }, { label: "Key" }, { label: "Value" }, { label: "Headers", cls: "hide-narrow" }, { label: "" }],
    rows, { id: "record-table", empty: "No records" });

  const read = async () => {
    stopTail();
    const f = new FormData(form);
    const partition = Number(f.get("partition") || 0);
    const from = f.get("from");
    const at = String(f.get("at") ?? "").trim();
    const fmt = f.get("format");
    setHashParams(new URLSearchParams(Object.entries({ partition, from, at, format: fmt === "auto" ? "" : fmt }).filter(([, v]) => v !== "")));
    const fmtq = { value_format: "base64", key_format: "base64", limit: RECORDS_PAGE };
    lastRead = { partition, fmt };
    if (from === "key") {
      const info = (await get(`/topics/${enc(name)}/partitions?offset=${partition}&limit=1`)).partitions[0];
      let offset = info.log_start_offset;
      let scanned = 0;
      const found = [];
      status.textContent = `Searching partition ${partition} for key ${JSON.stringify(at)}…`;
      while (offset < info.log_end_offset && scanned < SEARCH_BOUND && found.length < RECORDS_PAGE) {
        const page = await get(`${path(partition)}${query({ ...fmtq, offset, limit: 1000 })}`);
        if (!page.records.length) break;
        scanned += page.records.length;
        for (const r of page.records) if (keyMatches(r.key, at)) found.push(r);
        offset = page.next_offset;
      }
      nextOffset = null;
      status.textContent = `${found.length} record(s) with key ${JSON.stringify(at)} among ${num(scanned)} scanned from offset ${num(info.log_start_offset)}` +
        (offset < info.log_end_offset ? ` (stopped at offset ${num(offset)}: search again from there with "an offset")` : "");
      out.replaceChildren(recordTable(recordRows(partition, found, fmt)));
      return;
    }
    let q = { ...fmtq };
    if (from === "offset") q.offset = Number(at || 0);
    else if (from === "timestamp") q.timestamp = Number.isNaN(Date.parse(at)) ? Number(at) : Date.parse(at);
    else if (from === "end") {
      const info = (await get(`/topics/${enc(name)}/partitions?offset=${partition}&limit=1`)).partitions[0];
      q.offset = Math.max(info.log_start_offset, info.log_end_offset - RECORDS_PAGE);
    }
    const page = await get(`${path(partition)}${query(q)}`);
    nextOffset = page.next_offset;
    const rows = recordRows(partition, page.records, fmt);
    const tbl = recordTable(rows);
    const more = h("button", { type: "button", class: "secondary", id: "more", onclick: async () => {
      const next = await get(`${path(partition)}${query({ ...fmtq, offset: nextOffset })}`);
      nextOffset = next.next_offset;
      tbl.querySelector("tbody").append(...recordRows(partition, next.records, fmt));
      status.textContent = `Partition ${partition}: offsets ${num(page.log_start_offset)}–${num(next.high_watermark)}; next ${num(nextOffset)}`;
    } }, "More");
    status.textContent = `Partition ${partition}: offsets ${num(page.log_start_offset)}–${num(page.high_watermark)}; next ${num(nextOffset)}`;
    out.replaceChildren(tbl, from === "end" ? h("p", { class: "muted" }, "Live: new records appear as they are appended.") : more);
    if (from === "end") {
      tail = new AbortController();
      const signal = tail.signal;
      const body = tbl.querySelector("tbody");
      (async () => {
        while (!signal.aborted) {
          try {
            const resp = await fetch(`${path(partition)}${query({ ...fmtq, offset: nextOffset, wait_ms: 5000 })}`, { signal });
            if (!resp.ok) { toast(`tail stopped: HTTP ${resp.status}`, true); return; }
            const next = await resp.json();
            if (next.records.length) {
              if (body.querySelector("td[colspan]")) body.replaceChildren();
              body.append(...recordRows(partition, next.records, fmt));
            }
            nextOffset = next.next_offset;
            status.textContent = `Partition ${partition}: tailing at offset ${num(nextOffset)}`;
          } catch (err) {
            if (!signal.aborted) toast(`tail stopped: ${err.message}`, true);
            return;
          }
        }
      })();
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); read().catch(failed); });
  await read().catch(failed);
  return { stop: stopTail, refresh: () => read().catch(failed), lastRead: () => lastRead };
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied");
  } catch {
    const area = h("textarea", { style: "position:fixed;opacity:0" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    toast("Copied");
  }
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ------------------------------------------------------------------------------------------ groups
async function groupsPage(params) {
  const state = { offset: Number(params.get("offset") ?? 0), filter: params.get("filter") ?? "" };
  const filter = h("input", { type: "search", id: "group-filter", placeholder: "Filter by group id  (/)", value: state.filter, "aria-label": "Filter groups" });
  const list = h("div");
  main.replaceChildren(h("h1", null, "Consumer groups"), h("div", { class: "toolbar" }, filter), list);
  const draw = async () => {
    const body = await get(`/stats/groups${query({ offset: state.offset, limit: GROUPS_PAGE, filter: state.filter })}`);
    state.total = body.total;
    list.replaceChildren(table([{ label: "Group" }, { label: "State" }, { label: "Protocol" }, { label: "Members", num: true }, { label: "Topics", cls: "hide-narrow" }, { label: "Total lag", num: true }],
      body.groups.map((g) => h("tr", { dataset: { group: g.group_id } },
        h("td", null, h("a", { href: `#/groups/${enc(g.group_id)}` }, g.group_id)),
        h("td", null, h("span", { class: `badge ${g.state}` }, g.state)), h("td", null, g.group_type),
        h("td", { class: "num" }, num(g.members)), h("td", { class: "hide-narrow" }, g.topics.join(", ")),
        h("td", { class: "num lag" }, num(g.total_lag)))), { id: "groups", empty: "No groups" }),
    pager(state.offset, GROUPS_PAGE, body.total, (o) => { state.offset = o; save(); draw(); }));
  };
  const save = () => setHashParams(new URLSearchParams(Object.entries(state).filter(([k, v]) => k !== "total" && v !== "" && v !== 0)));
  let debounce = null;
  filter.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(() => { state.filter = filter.value; state.offset = 0; save(); draw(); }, 150); });
  await draw();
  return { stop: poller(draw), refresh: draw,
    pageBy: (d) => { const o = state.offset + d * GROUPS_PAGE; if (o >= 0 && o < state.total) { state.offset = o; save(); draw(); } } };
}

async function groupPage(groupId, params) {
  const state = { members: 0, offsets: 0 };
  const head = h("div");
  const chart = h("div", { class: "charts" });
  const members = h("div");
  const offsets = h("div");
  const resetOut = h("div", { id: "reset-result" });
  const resetForm = h("form", { id: "reset", class: "toolbar" },
    h("label", null, "Reset to", h("select", { name: "strategy" }, ["earliest", "latest", "timestamp", "offset", "shift"].map((v) => h("option", { value: v }, v)))),
    h("label", null, "Time / offset / shift", h("input", { name: "value", placeholder: "2026-01-01T00:00, 42 or -10" })),
    h("label", null, "Topics (comma separated, default all)", h("input", { name: "topics" })),
    h("button", { type: "submit", name: "dry", value: "1", class: "secondary" }, "Dry run"),
    h("button", { type: "submit", name: "dry", value: "0", class: "danger" }, "Reset offsets"));
  resetForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(resetForm);
    const dry = ev.submitter?.value !== "0";
    const strategy = f.get("strategy");
    const value = String(f.get("value") ?? "").trim();
    const body = { strategy, dry_run: dry };
    if (strategy === "timestamp") body.timestamp = Number.isNaN(Date.parse(value)) ? Number(value) : Date.parse(value);
    if (strategy === "offset") body.offset = Number(value);
    if (strategy === "shift") body.shift = Number(value);
    const topics = String(f.get("topics") ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    if (topics.length) body.topics = topics;
    if (!dry && !confirm(`Reset the offsets of group ${groupId} (${strategy})?`)) return;
    try {
      const r = await post(`/groups/${enc(groupId)}/reset-offsets`, body);
      resetOut.replaceChildren(h("p", null, dry ? "Dry run: nothing committed. These offsets would be committed:" : "Committed:"),
        table([{ label: "Topic" }, { label: "Partition", num: true }, { label: "Current", num: true }, { label: "New offset", num: true }],
          r.offsets.map((o) => h("tr", null, h("td", null, o.topic), h("td", { class: "num" }, o.partition),
            h("td", { class: "num" }, o.committed_offset ?? "–"), h("td", { class: "num" }, o.offset))), { id: "reset-table" }));
      if (!dry) { toast(`Offsets of ${groupId} reset`); draw(); }
    } catch (err) {
      resetOut.replaceChildren(h("p", { class: "error" }, `${err.code}: ${err.message}`));
    }
  });
  const shares = h("div", { id: "share-box" });
  const offsetsTitle = h("h2", null, "Committed offsets and lag");
  const reset = h("div", null, h("h2", null, "Reset offsets"), h("p", { class: "muted" }, "Allowed only while the group has no members, as kafka-consumer-groups --reset-offsets. A dry run shows the offsets without committing."),
    resetForm, resetOut);
  const configs = h("div");
  main.replaceChildren(h("h1", null, groupId), head, shares, h("h2", null, "Lag over time"), chart,
    offsetsTitle, offsets, h("h2", null, "Members"), members, reset,
    h("h2", null, "Configs"), h("p", { class: "muted" }, "The group's own values replace the broker's defaults for this group alone; members follow them from their next heartbeat."), configs);
  // The group's configs (GET/PATCH /groups/{group}/configs): drawn when the page opens and after a change, not on every poll.
  const drawConfigs = async () => {
    const d = await get(`/groups/${enc(groupId)}/configs`);
    configs.replaceChildren(configsEditor(d?.configs ?? [], `/groups/${enc(groupId)}/configs`, "GROUP_CONFIG", drawConfigs, "group-configs"));
  };
  await drawConfigs();
  const draw = async () => {
    const [d, hist] = await Promise.all([get(`/groups/${enc(groupId)}`), get(`/groups/${enc(groupId)}/lag-history`)]);
    const totalLag = d.offsets.reduce((a, o) => a + (o.lag ?? 0), 0);
    head.replaceChildren(h("div", { class: "cards" }, card("State", d.state, "group-state"), card("Protocol", d.group_type),
      card("Assignor / protocol", d.protocol || "–"), card("Epoch", d.group_epoch), card("Members", num(d.members.length), "group-members"),
      card("Total lag", `${d.offsets.some((o) => o.error) ? "≥ " : ""}${num(totalLag)}`, "group-lag")));
    const times = hist.samples.map((s) => s.time_ms);
    const worst = hist.partitions.map((p, i) => ({ p, i, last: hist.samples.length ? hist.samples[hist.samples.length - 1].lags[i] ?? 0 : 0 }))
      .sort((a, b) => b.last - a.last).slice(0, 4);
    const lastError = hist.samples.length ? hist.samples[hist.samples.length - 1].error : undefined;
    chart.replaceChildren(
      lineChart("Total lag (records)", times, [{ name: "total", values: hist.samples.map((s) => s.total) }], num),
      lineChart("Lag per partition (largest 4)", times, worst.map((w) => ({ name: `${w.p.topic}-${w.p.partition}`, values: hist.samples.map((s) => s.lags[w.i]) })), num),
      // In a cluster a partition whose leader could not be asked has no lag in the sample: say so, not 0.
      ...(lastError ? [h("p", { class: "error", id: "lag-error" }, `Lag not known for every partition: ${lastError}`)] : []));
    const share = d.group_type === "share";
    // A share group has no committed offsets: each share-partition's start offset stands in for them.
    offsetsTitle.textContent = share ? "Start offsets and lag" : "Committed offsets and lag";
    reset.hidden = share;
    shares.replaceChildren(...(share ? sharePartitions(d.share_partitions ?? []) : []));
    const offs = d.offsets;
    offsets.replaceChildren(table([{ label: "Topic" }, { label: "Partition", num: true }, { label: share ? "Start offset" : "Committed", num: true }, { label: "End", num: true }, { label: "Lag", num: true }, { label: "Member", cls: "hide-narrow" }],
      offs.slice(state.offsets, state.offsets + MEMBERS_PAGE).map((o) => h("tr", null, h("td", null, h("a", { href: `#/topics/${enc(o.topic)}` }, o.topic)),
        h("td", { class: "num" }, o.partition), h("td", { class: "num" }, o.committed_offset < 0 ? "–" : num(o.committed_offset)),
        o.error ? h("td", { class: "num", title: o.error }, "?") : h("td", { class: "num" }, num(o.log_end_offset)),
        h("td", { class: "num" }, num(o.lag)), h("td", { class: "hide-narrow muted" }, o.member_id ?? ""))),
      { id: "offsets", empty: "No committed offsets" }),
    pager(state.offsets, MEMBERS_PAGE, offs.length, (o) => { state.offsets = o; draw(); }));
    members.replaceChildren(table([{ label: "Member" }, { label: "Client", cls: "hide-narrow" }, { label: "Host", cls: "hide-narrow" }, { label: "Assignment" }],
      d.members.slice(state.members, state.members + MEMBERS_PAGE).map((m) => h("tr", null, h("td", null, m.member_id), h("td", { class: "hide-narrow" }, m.client_id),
        h("td", { class: "hide-narrow" }, m.client_host), h("td", { class: "wrap" }, m.assignment.map((a) => `${a.topic}-${a.partition}`).join(" ")))),
      { id: "members", empty: "No members" }),
    pager(state.members, MEMBERS_PAGE, d.members.length, (o) => { state.members = o; draw(); }));
  };
  await draw();
  void params;
  return { stop: poller(draw), refresh: draw };
}

// A table of configs (a topic's or a group's), each value saved in place or, when it is the
// resource's own (source ownSource), reset to the default: PATCH path {set} / {delete}, then redraw.
function configsEditor(entries, path, ownSource, redraw, id) {
  return table([{ label: "Name" }, { label: "Value" }, { label: "Default", cls: "hide-narrow" }, { label: "Source", cls: "hide-narrow" }, { label: "" }],
    entries.map((c) => {
      const input = h("input", { value: c.value ?? "", "aria-label": c.name, size: 16, disabled: c.read_only });
      return h("tr", { dataset: { config: c.name } }, h("td", { title: c.doc ?? "" }, c.name), h("td", null, input),
        h("td", { class: "hide-narrow muted" }, c.default ?? "–"), h("td", { class: "hide-narrow" }, c.source),
        h("td", null,
          h("button", { type: "button", class: "secondary", disabled: c.read_only, onclick: async () => {
            try { await patch(path, { set: { [c.name]: input.value } }); toast(`${c.name} = ${input.value}`); redraw(); } catch (err) { failed(err); }
          } }, "Save"),
          " ",
          c.source === ownSource ? h("button", { type: "button", class: "secondary", onclick: async () => {
            try { await patch(path, { delete: [c.name] }); toast(`${c.name} reset to default`); redraw(); } catch (err) { failed(err); }
          } }, "Reset") : null));
    }), { id });
}

// A share group's share-partitions (KIP-932): where each stands and what is in flight, from GET /groups/{group}.
function sharePartitions(parts) {
  const histogram = (s) => s.delivery_histogram.map((b) => `${num(b.records)}×${b.delivery_count}`).join("  ") || "–";
  return [h("h2", null, "Share-partitions"),
    h("p", { class: "muted" }, "Every record below the start offset is finished. In flight: acquired by a member, or available for redelivery; acknowledged and archived count the records finished inside the window. Deliveries: records in flight × times delivered."),
    table([{ label: "Topic" }, { label: "Partition", num: true }, { label: "Start offset", num: true }, { label: "Window end", cls: "num hide-narrow" },
      { label: "Log end", num: true }, { label: "Lag", num: true }, { label: "In flight", num: true }, { label: "Acquired", num: true },
      { label: "Available", cls: "num hide-narrow" }, { label: "Acknowledged", cls: "num hide-narrow" }, { label: "Archived", num: true },
      { label: "Deliveries", cls: "hide-narrow" }],
    parts.map((s) => h("tr", { dataset: { partition: `${s.topic}-${s.partition}` } },
      h("td", null, h("a", { href: `#/topics/${enc(s.topic)}` }, s.topic)), h("td", { class: "num" }, s.partition),
      h("td", { class: "num" }, num(s.start_offset)), h("td", { class: "num hide-narrow" }, num(s.end_offset)),
      h("td", { class: "num" }, num(s.log_end_offset)), h("td", { class: "num" }, num(s.lag)), h("td", { class: "num" }, num(s.in_flight)),
      h("td", { class: "num" }, num(s.acquired)), h("td", { class: "num hide-narrow" }, num(s.available)),
      h("td", { class: "num hide-narrow" }, num(s.acknowledged)), h("td", { class: "num" }, num(s.archived)),
      h("td", { class: "hide-narrow histogram" }, histogram(s)))),
    { id: "share-partitions", empty: "No share-partitions yet: no member has fetched" })];
}

// ------------------------------------------------------------------------------------------ keyboard
let pendingG = false;
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) {
    if (ev.key === "Escape") t.blur();
    return;
  }
  if (pendingG) {
    pendingG = false;
    const target = { o: "#/", t: "#/topics", g: "#/groups" }[ev.key];
    if (target) { location.hash = target; ev.preventDefault(); }
    return;
  }
  if (ev.key === "g") { pendingG = true; setTimeout(() => { pendingG = false; }, 1000); return; }
  if (ev.key === "/") {
    const box = main.querySelector("input[type=search], #browse-at");
    if (box) { box.focus(); ev.preventDefault(); }
  } else if (ev.key === "j") current?.pageBy?.(1);
  else if (ev.key === "k") current?.pageBy?.(-1);
  else if (ev.key === "r") current?.refresh?.();
  else if (ev.key === "?") document.getElementById("help").showModal();
});
document.getElementById("help-button").addEventListener("click", () => document.getElementById("help").showModal());

window.addEventListener("hashchange", show);
// With authentication on, "Log out" ends the session on the broker (its token is revoked there, so a
// copied cookie is worthless too), then shows the login page.
get("/auth/whoami").then((who) => {
  if (!who.authentication) return;
  const button = document.getElementById("logout-button");
  button.hidden = false;
  button.title = `Log out ${who.principal}`;
  button.addEventListener("click", () => {
    post("/auth/logout").finally(() => location.assign("/login"));
  });
}).catch(() => {});
get("/health").then((hh) => { document.getElementById("identity").textContent = `node ${hh.node_id} · cluster ${hh.cluster_id}`; }).catch(() => {});
show();
// Scripts (and the tests) can tell the page has rendered.
window.logbrokerConsole = { api, get current() { return current; } };
