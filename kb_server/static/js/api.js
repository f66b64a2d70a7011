// kb-server's HTTP API. Every call carries the API key (if one was given) as X-API-Key and this
// browser's id as X-Client-Id (whose conversations they are); a 401 asks the user for the key once,
// stores it, and retries.

import { SseParser } from "./sse.js";

const KEY_STORAGE = "kb-server.api-key";
const CLIENT_STORAGE = "kb-server.client-id";

export class ApiError extends Error {
  constructor(status, code, detail, retryAfter = null) {
    super(describeDetail(detail) || code);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((e) => (e && e.msg) || String(e)).join("; ");
  return detail ? JSON.stringify(detail) : "";
}

let askForKey = async () => null;
let pendingAsk = null;

// `ask(refused)` shows the key prompt and resolves to the key, or null if the user gave up.
export function setKeyPrompt(ask) {
  askForKey = ask;
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

// One prompt however many calls were refused at the same moment.
async function renewKey() {
  if (!pendingAsk) {
    pendingAsk = askForKey(Boolean(apiKey())).finally(() => {
      pendingAsk = null;
    });
  }
  const key = await pendingAsk;
  if (key) setApiKey(key);
  return Boolean(key);
}

// Made once per browser profile; it keeps browsers' conversations apart, it is not a secret.
export function clientId() {
  let id = localStorage.getItem(CLIENT_STORAGE);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(CLIENT_STORAGE, id);
  }
  return id;
}

function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const key = apiKey();
  if (key) headers.set("X-API-Key", key);
  headers.set("X-Client-Id", clientId());
  return headers;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(
    response.status,
    (body && body.code) || `http_${response.status}`,
    (body && body.detail) || response.statusText,
    Number.isFinite(retry) ? retry : null,
  );
}

export async function request(method, path, { json, signal, accept } = {}) {
  for (;;) {
    const headers = authHeaders(accept ? { Accept: accept } : {});
    const init = { method, headers, signal };
    if (json !== undefined) {
      headers.set("Content-Type", "application/json");
      init.body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network_error", "the server cannot be reached");
    }
    if (response.status === 401 && (await renewKey())) continue;
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

async function getJson(path) {
  return (await request("GET", path)).json();
}

const kbPath = (kb) => `/api/kbs/${encodeURIComponent(kb)}`;

export const listKbs = async () => (await getJson("/api/kbs")).kbs;
export const createKb = async (name, description) =>
  (await request("POST", "/api/kbs", { json: { name, description } })).json();
export const deleteKb = (kb) => request("DELETE", kbPath(kb));
export const listFiles = async (kb) => (await getJson(`${kbPath(kb)}/files`)).files;
export const deleteFile = (kb, id) => request("DELETE", `${kbPath(kb)}/files/${id}`);
export const reingestFile = async (kb, id) => (await request("POST", `${kbPath(kb)}/files/${id}/reingest`)).json();
export const cancelFile = async (kb, id) =>
  (await request("POST", `${kbPath(kb)}/files/${id}/cancel`, { json: { reason: "cancelled from the web UI" } })).json();
export const cancelPending = async (kb) =>
  (await request("POST", `${kbPath(kb)}/cancel`, { json: { reason: "cancelled from the web UI" } })).json();

export const listConversations = async () => (await getJson("/api/conversations?limit=200")).conversations;
export const createConversation = async (kbs) =>
  (await request("POST", "/api/conversations", { json: kbs.length > 1 ? { kbs } : { kb: kbs[0] } })).json();
export const getConversation = (id) => getJson(`/api/conversations/${id}`);
export const renameConversation = async (id, title) =>
  (await request("PATCH", `/api/conversations/${id}`, { json: { title } })).json();
export const deleteConversation = (id) => request("DELETE", `/api/conversations/${id}`);

// XMLHttpRequest, not fetch: only it reports upload progress.
function sendForm(url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "json";
    const key = apiKey();
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => reject(new ApiError(0, "network_error", "the server cannot be reached")));
    xhr.send(form);
  });
}

// Upload files in one request; resolves to the server's per-file answers.
export async function uploadFiles(kb, files, onProgress = () => {}) {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  for (;;) {
    const xhr = await sendForm(`${kbPath(kb)}/files`, form, onProgress);
    if (xhr.status === 401 && (await renewKey())) continue;
    const body = xhr.response || {};
    if (xhr.status >= 200 && xhr.status < 300) return body.files;
    const retry = Number.parseInt(xhr.getResponseHeader("Retry-After") || "", 10);
    throw new ApiError(xhr.status, body.code || `http_${xhr.status}`, body.detail || xhr.statusText,
      Number.isFinite(retry) ? retry : null);
  }
}

// Ask a question and stream the answer. `on` receives token(delta), citations(list) and the
// final done({answer, citations, refused}); a failure, before or during the stream, throws ApiError.
export async function streamChat(body, on, signal) {
  const response = await request("POST", "/api/chat", { json: { ...body, stream: true }, signal, accept: "text/event-stream" });
  const type = response.headers.get("Content-Type") || "";
  if (!type.startsWith("text/event-stream")) {
    const done = await response.json();
    on.citations(done.citations || []);
    on.done(done);
    return;
  }
  let finished = false;
  let failure = null;
  const parser = new SseParser((event, data) => {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (event === "token") on.token(payload.delta || "");
    else if (event === "citations") on.citations(payload.citations || []);
    else if (event === "done") {
      finished = true;
      on.done(payload);
    } else if (event === "error") failure = new ApiError(200, payload.code || "stream_error", payload.detail);
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
      if (failure || finished) break;
    }
    parser.end();
  } finally {
    // Closes the connection if we stopped early; the server then frees its generation slot.
    reader.cancel().catch(() => {});
  }
  if (failure) throw failure;
  if (!finished) throw new ApiError(0, "stream_cut", "the answer stopped before it was complete");
}
