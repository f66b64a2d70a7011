// Web pages into the knowledge base: the "Add web page" form (URL, how many link levels to follow,
// how often to check the pages for changes) sends POST /api/kbs/{kb}/urls, then follows the request until its pages are fetched and
// ingested; the files table shows each fetched file with its URL.

import { request } from "./api.js";
import { $, h } from "./dom.js";

const POLL_MS = 1000;

const kbPath = (kb) => `/api/kbs/${encodeURIComponent(kb)}`;

export class WebPageForm {
  constructor(form, { kb, onFetched }) {
    this.form = form;
    this.kb = kb; // () => the knowledge base shown
    this.onFetched = onFetched;
    this.url = $("#web-page-url", form);
    this.depth = $("#web-page-depth", form);
    this.refresh = $("#web-page-refresh", form);
    this.status = $("#web-page-status", form);
    this.button = $("button[type=submit]", form);
    this.followed = 0;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  async submit() {
    const kb = this.kb();
    if (!kb) return;
    const follow = ++this.followed;
    this.button.disabled = true;
    this.say("Sending…");
    try {
      const body = {
        urls: [this.url.value.trim()],
        depth: Number(this.depth.value),
        refresh_s: Number(this.refresh.value),
      };
      const answer = await (await request("POST", `${kbPath(kb)}/urls`, { json: body })).json();
      this.url.value = "";
      this.say("Fetching…");
      await this.follow(kb, answer.request_id, follow);
    } catch (err) {
      this.say(`Not fetched: ${err.message}`, "error");
    } finally {
      this.button.disabled = false;
    }
  }

  async follow(kb, requestId, follow) {
    for (;;) {
      const state = await (await request("GET", `${kbPath(kb)}/urls/${requestId}`)).json();
      if (follow !== this.followed || kb !== this.kb()) return;
      this.say(summary(state), state.pages.some((p) => p.status === "failed") ? "error" : "");
      this.onFetched();
      if (state.state === "done") return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  say(text, tone = "") {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
  }
}

function summary(state) {
  const pages = state.pages.filter((p) => p.kind === "page");
  const count = (status) => pages.filter((p) => p.status === status).length;
  const parts = [`${count("fetched")} of ${pages.length} pages fetched`];
  if (count("duplicate")) parts.push(`${count("duplicate")} already in the KB`);
  const failed = pages.filter((p) => p.status === "failed");
  if (failed.length) {
    parts.push(`${failed.length} failed (${failed.map((p) => `${p.url}: ${p.error_code}`).join("; ")})`);
  }
  if (state.state !== "done") parts.push("working…");
  else if (state.refresh_s) parts.push(`checked for changes every ${every(state.refresh_s)}`);
  return parts.join(", ");
}

function every(seconds) {
  const units = [[604800, "week"], [86400, "day"], [3600, "hour"], [60, "minute"]];
  const [size, unit] = units.find(([n]) => seconds % n === 0) || [1, "second"];
  const n = seconds / size;
  return n === 1 ? unit : `${n} ${unit}s`;
}

// The name cell of a file's row: its name, and the page it came from as a link.
export function fillName(td, name, url) {
  const source = url && /^https?:\/\//i.test(url) ? url : "";
  if (td.dataset.name === name && td.dataset.url === source) return;
  td.dataset.name = name;
  td.dataset.url = source;
  td.replaceChildren(name);
  if (source) {
    td.append(h("a", { class: "source", href: source, target: "_blank", rel: "noopener noreferrer", text: source }));
  }
}
