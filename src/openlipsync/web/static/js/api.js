// Thin client for the native /v1 API on the same origin. Every call sends the stored API key.

const KEY_STORAGE = "openlipsync.apiKey";
const API_BASE = new URL("v1/", document.baseURI);

/** An error response from the API, normalised to a readable message and a machine code. */
export class ApiError extends Error {
  constructor(message, { code = null, status = 0, details = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After header
  }
}

export function getKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setKey(key) {
  localStorage.setItem(KEY_STORAGE, key.trim());
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

export function apiUrl(path, query = null) {
  const url = new URL(path.replace(/^\//, ""), API_BASE);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

function authHeaders() {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

const STATUS_TEXT = {
  400: "The request was not accepted",
  401: "The API key is missing or not valid: save a key at the top of the page",
  403: "This API key may not do that",
  404: "Not found",
  409: "Conflict",
  413: "The file is too large",
  415: "Unsupported file type",
  422: "The input could not be used",
  429: "Too many requests; wait a moment",
  500: "Server error",
  503: "The server is not ready",
};

/** Turn any of the error bodies the API may send into {message, code}. */
export function parseErrorBody(status, body) {
  let message = null;
  let code = null;
  let details = null;
  if (body && typeof body === "object") {
    const inner = body.error && typeof body.error === "object" ? body.error : body;
    code = inner.code || inner.error_code || body.error_code || body.code || null;
    message = inner.message || inner.detail || body.message || null;
    if (!message && typeof body.error === "string") message = body.error;
    if (Array.isArray(body.detail)) {
      // FastAPI request validation: list of {loc, msg}.
      details = body.detail;
      message = body.detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
      code = code || "request_validation_failed";
    } else if (typeof body.detail === "string") {
      message = message || body.detail;
    } else if (body.detail && typeof body.detail === "object") {
      return parseErrorBody(status, body.detail);
    }
    if (Array.isArray(message)) message = message.join("; ");
  } else if (typeof body === "string" && body.trim()) {
    message = body.trim().slice(0, 300);
  }
  // A bare "Unauthorized" says nothing about what to do.
  if (status === 401 && /^unauthori[sz]ed\.?$/i.test(String(message || "").trim())) message = null;
  return { message: message || STATUS_TEXT[status] || `HTTP ${status}`, code, details };
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** fetch() a /v1 path; resolve to the parsed JSON body or throw ApiError. */
export async function request(method, path, { json, form, query, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), { method, headers, body, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("Cannot reach the server. Is `openlipsync serve` running?", { code: "network_error" });
  }
  const parsed = await readBody(response);
  if (!response.ok) {
    const { message, code, details } = parseErrorBody(response.status, parsed);
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(message, { code, status: response.status, details, retryAfter });
  }
  return parsed;
}

/** POST a FormData with upload progress (fetch has no upload progress events). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl(path));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError("Upload failed: the server could not be reached.", { code: "network_error" }));
    xhr.onload = () => {
      let parsed = xhr.responseText;
      try {
        parsed = parsed ? JSON.parse(parsed) : null;
      } catch {
        /* keep the text */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(parsed);
      } else {
        const { message, code, details } = parseErrorBody(xhr.status, parsed);
        reject(new ApiError(message, { code, status: xhr.status, details }));
      }
    };
    xhr.send(form);
  });
}
