// The files of one knowledge base: drop or pick files to upload, then follow each one through
// queued → parsing → chunking → embedding → indexing → done (or cancel it on the way). The table
// comes from the server (GET /api/kbs/{kb}/files), polled while work is under way, so a reload
// loses nothing.

import * as api from "./api.js";
import { $, confirmDialog, formatBytes, formatTime, h } from "./dom.js";
import { fillName } from "./webpages.js";

const BUSY_POLL_MS = 1000;
const IDLE_POLL_MS = 10000;
const PARALLEL_UPLOADS = 3;

let nextUploadId = 1;

export class FilesView {
  constructor(root, { onError, onKbGone, onChange }) {
    this.root = root;
    this.onError = onError;
    this.onKbGone = onKbGone;
    this.onChange = onChange;
    this.tbody = $("#file-rows", root);
    this.empty = $("#files-empty", root);
    this.count = $("#file-count", root);
    this.input = $("#file-input", root);
    this.cancelAll = $("#cancel-pending", root);
    this.kb = null;
    this.files = [];
    this.uploads = [];
    this.queue = [];
    this.active = 0;
    this.rows = new Map();
    this.timer = null;
    this.generation = 0;
    this.bind();
  }

  bind() {
    const zone = $("#dropzone", this.root);
    $("#pick-files", this.root).addEventListener("click", () => this.input.click());
    this.cancelAll.addEventListener("click", () => this.cancelPending());
    this.input.addEventListener("change", () => {
      this.add([...this.input.files]);
      this.input.value = "";
    });
    // Dropping anywhere on the files view uploads; elsewhere the browser must not open the file.
    for (const type of ["dragover", "drop"]) document.addEventListener(type, (e) => e.preventDefault());
    this.root.addEventListener("dragover", (e) => {
      e.dataTransfer.dropEffect = this.kb ? "copy" : "none";
      zone.classList.add("dragging");
    });
    this.root.addEventListener("dragleave", (e) => {
      if (!this.root.contains(e.relatedTarget)) zone.classList.remove("dragging");
    });
    this.root.addEventListener("drop", (e) => {
      zone.classList.remove("dragging");
      const files = [...(e.dataTransfer?.files || [])];
      if (files.length) this.add(files);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.kb) this.refresh();
    });
  }

  show(kb) {
    if (kb === this.kb) return;
    this.kb = kb;
    this.generation += 1;
    this.files = [];
    this.uploads = [];
    this.queue = [];
    this.rows.clear();
    this.tbody.replaceChildren();
    this.render();
    if (kb) this.refresh();
    else clearTimeout(this.timer);
  }

  add(files) {
    if (!this.kb) return;
    for (const file of files) {
      const upload = { key: `u${nextUploadId++}`, kb: this.kb, file, name: file.name, size: file.size,
        status: "uploading", progress: 0, detail: "", fileId: null };
      this.uploads.unshift(upload);
      this.queue.push(upload);
    }
    this.render();
    this.pump();
  }

  pump() {
    while (this.active < PARALLEL_UPLOADS && this.queue.length) {
      const upload = this.queue.shift();
      this.active += 1;
      this.send(upload).finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  async send(upload) {
    const generation = this.generation;
    try {
      const [answer] = await api.uploadFiles(upload.kb, [upload.file], (fraction) => {
        upload.progress = fraction;
        this.renderSoon();
      });
      upload.status = answer.status;
      upload.fileId = answer.file_id;
      upload.version = answer.version;
      upload.replaces = answer.replaces;
      upload.detail = answer.error ? answer.error.detail : "";
    } catch (err) {
      upload.status = err.status === 415 ? "rejected" : "error";
      upload.detail = err.message;
      if (err.code === "kb_not_found") this.onKbGone(upload.kb);
    }
    upload.file = null;
    if (generation !== this.generation) return;
    if (upload.status === "duplicate") {
      const existing = this.files.find((f) => f.file_id === upload.fileId);
      upload.detail = `already in this knowledge base${existing ? ` as “${existing.name}”` : ""}`;
    }
    this.render();
    this.refresh();
  }

  async refresh() {
    const generation = this.generation;
    clearTimeout(this.timer);
    try {
      const files = await api.listFiles(this.kb);
      if (generation !== this.generation) return;
      this.files = files.sort((a, b) => b.file_id - a.file_id);
      const known = new Set(files.map((f) => f.file_id));
      // An accepted upload's row hands over to the server's row once the server lists it.
      this.uploads = this.uploads.filter((u) => !(u.status === "queued" && known.has(u.fileId)));
      this.render();
      this.onChange(files);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.code === "kb_not_found") {
        this.onKbGone(this.kb);
        return;
      }
      this.onError(`Could not load the files: ${err.message}`);
      // The user declined to give the API key: do not ask again on every poll.
      if (err.status === 401) return;
    }
    const busy = this.active > 0 || this.files.some((f) => f.status === "queued" || f.status === "processing");
    this.timer = setTimeout(() => {
      if (!document.hidden && this.kb) this.refresh();
    }, busy ? BUSY_POLL_MS : IDLE_POLL_MS);
  }

  renderSoon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  render() {
    const entries = [
      ...this.uploads.map((u) => [`u:${u.key}`, () => this.uploadRow(u), (tr) => fillUpload(tr, u)]),
      ...this.files.map((f) => [`f:${f.file_id}`, () => this.fileRow(f), (tr) => fillFile(tr, f)]),
    ];
    const wanted = new Set(entries.map(([key]) => key));
    for (const [key, tr] of this.rows) {
      if (!wanted.has(key)) {
        tr.remove();
        this.rows.delete(key);
      }
    }
    entries.forEach(([key, make, fill], index) => {
      let tr = this.rows.get(key);
      if (!tr) {
        tr = make();
        this.rows.set(key, tr);
      }
      fill(tr);
      if (this.tbody.children[index] !== tr) this.tbody.insertBefore(tr, this.tbody.children[index] || null);
    });
    this.empty.hidden = entries.length > 0 || !this.kb;
    this.count.textContent = this.files.length ? `(${this.files.length})` : "";
    const pending = this.files.filter(isPending).length;
    this.cancelAll.hidden = pending === 0;
    this.cancelAll.textContent = `Cancel all pending (${pending})`;
  }

  fileRow(f) {
    const cancel = h("button", { type: "button", class: "small cancel", text: "Cancel" });
    const reingest = h("button", { type: "button", class: "small reingest", text: "Re-ingest" });
    const remove = h("button", { type: "button", class: "small danger", text: "Delete" });
    cancel.addEventListener("click", () => this.cancel(f.file_id, cancel));
    reingest.addEventListener("click", () => this.reingest(f.file_id, reingest));
    remove.addEventListener("click", () => this.remove(f.file_id, remove));
    return baseRow({ fileId: String(f.file_id) }, h("td", { class: "actions" }, cancel, reingest, remove));
  }

  async cancel(fileId, button) {
    button.disabled = true;
    try {
      const file = await api.cancelFile(this.kb, fileId);
      this.files = this.files.map((f) => (f.file_id === fileId ? file : f));
      this.render();
    } catch (err) {
      this.onError(`Could not cancel: ${err.message}`);
    } finally {
      button.disabled = false;
    }
    this.refresh();
  }

  async cancelPending() {
    const pending = this.files.filter(isPending).length;
    const message = `Cancel the ${pending} file${pending === 1 ? "" : "s"} not ingested yet? Files already done stay.`;
    if (!(await confirmDialog(message, "Cancel all pending"))) return;
    this.cancelAll.disabled = true;
    try {
      await api.cancelPending(this.kb);
    } catch (err) {
      this.onError(`Could not cancel: ${err.message}`);
    } finally {
      this.cancelAll.disabled = false;
    }
    this.refresh();
  }

  uploadRow(u) {
    const dismiss = h("button", { type: "button", class: "small", text: "Dismiss" });
    dismiss.addEventListener("click", () => {
      this.uploads = this.uploads.filter((x) => x !== u);
      this.render();
    });
    return baseRow({ upload: u.key }, h("td", { class: "actions" }, dismiss));
  }

  async reingest(fileId, button) {
    button.disabled = true;
    try {
      const file = await api.reingestFile(this.kb, fileId);
      this.files = this.files.map((f) => (f.file_id === fileId ? file : f));
      this.render();
    } catch (err) {
      this.onError(`Could not re-ingest: ${err.message}`);
    } finally {
      button.disabled = false;
    }
    this.refresh();
  }

  async remove(fileId, button) {
    const file = this.files.find((f) => f.file_id === fileId);
    if (!(await confirmDialog(`Delete “${file ? file.name : fileId}” and its chunks?`, "Delete file"))) return;
    button.disabled = true;
    try {
      await api.deleteFile(this.kb, fileId);
      this.files = this.files.filter((f) => f.file_id !== fileId);
      this.render();
    } catch (err) {
      button.disabled = false;
      this.onError(`Could not delete: ${err.message}`);
    }
    this.refresh();
  }
}

function isPending(f) {
  return f.status === "queued" || f.status === "processing";
}

function baseRow(dataset, actions) {
  const status = h("td", { class: "status", "data-label": "Status" },
    h("div", { class: "stage" }, h("span", { class: "badge" }), h("span", { class: "pct" })),
    h("progress", { max: "1", value: "0" }),
    h("p", { class: "reason" }));
  return h("tr", { dataset },
    h("td", { class: "name", "data-label": "Name" }, h("span", { class: "label" }), h("small", { class: "version" })),
    h("td", { class: "size num", "data-label": "Size" }),
    status,
    h("td", { class: "chunks num", "data-label": "Chunks" }),
    h("td", { class: "time", "data-label": "Added" }),
    actions);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function fillStatus(tr, { status, stage, progress, reason, label }) {
  tr.dataset.status = status;
  const bar = tr.querySelector("progress");
  bar.value = progress;
  bar.setAttribute("aria-label", `${tr.querySelector(".name .label").textContent}: ${label}`);
  setText(tr.querySelector(".badge"), label);
  tr.querySelector(".badge").dataset.stage = stage;
  const showPct = status === "processing" || status === "uploading";
  setText(tr.querySelector(".pct"), showPct ? `${Math.round(progress * 100)}%` : "");
  setText(tr.querySelector(".reason"), reason);
}

// "v2, replaced v1 …": a new version of a document already in the KB (same name, other bytes).
// The old version's row leaves the list once it is replaced, so it is named by its version, not its id.
function versionNote(f) {
  if (!f.replaces) return f.version > 1 ? `v${f.version}` : "";
  const previous = `v${f.version - 1}`;
  if (f.replaced_at) return `v${f.version}, replaced ${previous} ${formatTime(f.replaced_at)}`;
  if (f.status === "failed" || f.status === "cancelled") return `v${f.version}, ${previous} still serves`;
  return `v${f.version}, replaces ${previous} once done`;
}

function fillFile(tr, f) {
  fillName(tr.querySelector(".name .label"), f.name, f.source_url);
  setText(tr.querySelector(".name .version"), versionNote(f));
  tr.querySelector(".name").title = `sha256 ${f.sha256}`;
  setText(tr.querySelector(".size"), formatBytes(f.size));
  setText(tr.querySelector(".chunks"), f.status === "done" ? String(f.chunks) : "–");
  setText(tr.querySelector(".time"), formatTime(f.created_at));
  tr.querySelector(".time").title = `added ${f.created_at}, updated ${f.updated_at}`;
  const stage = f.status === "processing" ? f.stage || "processing" : f.status;
  const progress = { done: 1, failed: 1, processing: f.progress }[f.status] ?? 0;
  const reason = f.status === "failed" ? [f.error, f.error_code && `(${f.error_code})`].filter(Boolean).join(" ")
    : f.status === "cancelled" ? `${f.error || "cancelled"}; re-ingest or upload it again to ingest it` : "";
  fillStatus(tr, { status: f.status, stage, progress, reason, label: stage });
  tr.querySelector(".actions .cancel").hidden = !isPending(f);
}

function fillUpload(tr, u) {
  setText(tr.querySelector(".name .label"), u.name);
  setText(tr.querySelector(".name .version"), u.replaces ? `v${u.version}, replaces v${u.version - 1}` : "");
  setText(tr.querySelector(".size"), formatBytes(u.size));
  setText(tr.querySelector(".chunks"), "–");
  setText(tr.querySelector(".time"), "");
  fillStatus(tr, {
    status: u.status,
    stage: u.status,
    // A finished upload's bar is full; its colour tells how it ended.
    progress: u.status === "uploading" ? u.progress : u.status === "queued" ? 0 : 1,
    reason: u.detail,
    label: u.status === "error" ? "failed" : u.status,
  });
  const dismiss = tr.querySelector(".actions button");
  dismiss.hidden = !["duplicate", "rejected", "error"].includes(u.status);
}
