// Rendering record bytes: the console reads with value_format=base64 (bytes as they are) and decides
// here how to show them: JSON when they parse, text when they are printable UTF-8, hex otherwise.
export function decodeBase64(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function utf8(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function printable(text) {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

export function bestFormat(bytes) {
  if (bytes === null) return "null";
  const text = utf8(bytes);
  if (text === null || !printable(text)) return "hex";
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try { JSON.parse(text); return "json"; } catch { /* plain text */ }
  }
  return "text";
}

export function render(b64, format) {
  const bytes = decodeBase64(b64);
  if (bytes === null) return { format: "null", text: "null" };
  const fmt = format === "auto" ? bestFormat(bytes) : format;
  if (fmt === "base64") return { format: fmt, text: b64 };
  if (fmt === "hex") return { format: fmt, text: hex(bytes) };
  const text = utf8(bytes);
  if (text === null) return { format: "hex", text: hex(bytes) };
  if (fmt === "json") {
    try { return { format: fmt, text: JSON.stringify(JSON.parse(text), null, 2) }; } catch { return { format: "text", text }; }
  }
  return { format: "text", text };
}

// A record as a self-describing JSON document (for copy and download): text where it is text, else base64.
export function exportable(topic, partition, record) {
  const field = (b64) => {
    const bytes = decodeBase64(b64);
    if (bytes === null) return null;
    const text = utf8(bytes);
    return text !== null && printable(text) ? { text } : { base64: b64 };
  };
  return {
    topic, partition, offset: record.offset, timestamp: record.timestamp, timestamp_type: record.timestamp_type,
    key: field(record.key), value: field(record.value),
    headers: record.headers.map((hd) => ({ key: hd.key, value: field(hd.value) })),
  };
}

export function keyMatches(b64, wanted) {
  const bytes = decodeBase64(b64);
  if (bytes === null) return false;
  const text = utf8(bytes);
  return text === wanted;
}
