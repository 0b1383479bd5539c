// The console's only way to the broker: the public HTTP API (see /openapi.json).
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// With authentication on, the console's session is an HttpOnly cookie the page cannot read; the
// CSRF token beside it is readable and goes back as X-CSRF-Token on every state-changing request.
function csrfToken() {
  const match = document.cookie.split("; ").find((c) => c.startsWith("logbroker_csrf="));
  return match ? decodeURIComponent(match.slice("logbroker_csrf=".length)) : "";
}

export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    const csrf = csrfToken();
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
  }
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !path.startsWith("/auth/")) {
    // Not logged in (or the session expired): to the login page, then back here.
    location.assign(`/login?next=${encodeURIComponent(location.hash || "#/")}`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error_code: `HTTP_${response.status}`, message: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error_code ?? `HTTP_${response.status}`, data?.message ?? response.statusText);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
