// A tiny DOM builder: every text goes in through textContent, so names and record bytes never become markup.
export function h(tag, attrs, ...children) {
  const el = document.createElementNS(tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
    tag.replace(/^svg:/, ""));
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function num(n) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
}

export function ms(n) {
  if (n === null || n === undefined) return "–";
  if (n < 0) return "forever";
  const units = [[86400000, "d"], [3600000, "h"], [60000, "min"], [1000, "s"]];
  for (const [size, name] of units) if (n >= size && n % size === 0) return `${n / size} ${name}`;
  return `${n} ms`;
}

export function time(tsMs) {
  return new Date(tsMs).toISOString().replace("T", " ").replace("Z", "");
}

export function toast(message, isError = false) {
  const box = document.getElementById("toast");
  const item = h("div", { class: isError ? "error" : "" }, message);
  box.append(item);
  setTimeout(() => item.remove(), isError ? 8000 : 3500);
}
