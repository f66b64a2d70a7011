// Chat with one knowledge base: the answer streams in token by token, then is replaced by the
// server's cited version (sentence by sentence, see answer.js); citation markers [n] open the
// cited passage, and the conversation is kept for the tab's lifetime (sessionStorage).

import { renderAnswer } from "./answer.js";
import * as api from "./api.js";
import { $, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

const HISTORY_TURNS = 8;

const MESSAGES = {
  llm_not_installed:
    "No language model is installed on this server, so it cannot answer questions. " +
    "Install the LLM extra (pip install 'kb-server[llm]') and restart kb-server. Uploads and search still work.",
  llm_unavailable: "The language model is unavailable right now.",
  llm_busy: "The language model is busy answering another question.",
  kb_not_found: "This knowledge base no longer exists.",
  network_error: "The server cannot be reached. Is kb-server running?",
  stream_cut: "The answer stopped before it was complete.",
  llm_error: "The language model failed while answering.",
};

export function explainChatError(err) {
  const known = MESSAGES[err.code];
  if (err.code === "llm_busy") {
    return `${known} Try again${err.retryAfter ? ` in ${err.retryAfter} s` : " in a moment"}.`;
  }
  if (known && err.code !== "llm_not_installed" && err.message && err.message !== err.code) {
    return `${known} (${err.message})`;
  }
  return known || `The question could not be answered: ${err.message}`;
}

export class ChatView {
  constructor(root, { onKbGone }) {
    this.root = root;
    this.onKbGone = onKbGone;
    this.list = $("#messages", root);
    this.intro = $("#chat-empty", root);
    this.form = $("#composer", root);
    this.input = $("#question", root);
    this.send = $("#send", root);
    this.stop = $("#stop", root);
    this.dialog = $("#passage-dialog");
    this.kb = null;
    this.messages = [];
    this.controller = null;
    this.bind();
  }

  bind() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.ask();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.ask();
      }
    });
    this.stop.addEventListener("click", () => this.controller?.abort());
    $("#chat-clear", this.root).addEventListener("click", () => {
      this.controller?.abort();
      this.messages = [];
      this.save();
      this.renderAll();
      this.input.focus();
    });
    $("#passage-close", this.dialog).addEventListener("click", () => this.dialog.close());
  }

  show(kb) {
    if (kb === this.kb) return;
    this.controller?.abort();
    this.kb = kb;
    $("#chat-kb", this.root).textContent = kb || "";
    this.messages = this.load();
    this.renderAll();
  }

  storageKey() {
    return `kb-server.chat.${this.kb}`;
  }

  load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.storageKey()) || "[]");
      return Array.isArray(saved) ? saved.filter((m) => m.state !== "streaming") : [];
    } catch {
      return [];
    }
  }

  save() {
    if (!this.kb) return;
    const done = this.messages.filter((m) => m.state !== "streaming");
    try {
      sessionStorage.setItem(this.storageKey(), JSON.stringify(done));
    } catch {
      // Storage full or disabled: the conversation still lives in the page.
    }
  }

  history() {
    const turns = [];
    for (let i = 0; i + 1 < this.messages.length; i += 2) {
      const [question, reply] = [this.messages[i], this.messages[i + 1]];
      if (reply.state === "done") {
        turns.push({ role: "user", content: question.content }, { role: "assistant", content: reply.content });
      }
    }
    return turns.slice(-HISTORY_TURNS * 2);
  }

  options() {
    const body = {};
    const topK = Number.parseInt($("#opt-top-k", this.root).value, 10);
    const threshold = Number.parseFloat($("#opt-threshold", this.root).value);
    if (Number.isFinite(topK)) body.top_k = topK;
    if (Number.isFinite(threshold)) body.score_threshold = threshold;
    if ($("#opt-quote", this.root).checked) body.mode = "quote";
    return body;
  }

  async ask() {
    const question = this.input.value.trim();
    if (!question || this.controller || !this.kb) return;
    const kb = this.kb;
    const history = this.history();
    const reply = { role: "assistant", content: "", citations: [], refused: false, state: "streaming", error: "" };
    this.messages.push({ role: "user", content: question, state: "done" }, reply);
    this.input.value = "";
    this.renderAll();
    const controller = new AbortController();
    this.controller = controller;
    this.busy(true);
    const el = this.list.lastElementChild;
    try {
      await api.streamChat({ kb, question, history, ...this.options() }, {
        token: (delta) => {
          reply.content += delta;
          this.updateSoon(el, reply);
        },
        citations: (citations) => {
          reply.citations = citations;
          this.updateSoon(el, reply);
        },
        done: (done) => {
          reply.content = done.answer ?? reply.content;
          reply.citations = done.citations || reply.citations;
          reply.sentences = done.sentences || [];
          reply.refused = Boolean(done.refused);
          reply.refusedBy = done.refused_by || null;
          reply.mode = done.mode || "generate";
          reply.fallback = done.fallback || null;
          reply.state = "done";
        },
      }, controller.signal);
    } catch (err) {
      reply.state = "error";
      reply.error = err.name === "AbortError" ? "Stopped." : explainChatError(err);
      if (err.code === "kb_not_found") this.onKbGone(kb);
    } finally {
      this.controller = null;
      this.busy(false);
    }
    if (kb !== this.kb) return;
    this.update(el, reply);
    this.save();
    this.input.focus();
  }

  busy(on) {
    this.send.disabled = on;
    this.stop.hidden = !on;
  }

  renderAll() {
    this.list.replaceChildren(...this.messages.map((m) => this.messageElement(m)));
    this.intro.hidden = this.messages.length > 0;
    this.scroll();
  }

  messageElement(m) {
    if (m.role === "user") {
      return h("li", { class: "msg user" }, h("div", { class: "bubble", text: m.content }));
    }
    const li = h("li", { class: "msg assistant" },
      h("div", { class: "bubble" },
        h("p", { class: "refused-note", text: "No answer in this knowledge base" }),
        h("div", { class: "answer markdown" }),
        h("p", { class: "typing", text: "Thinking…" }),
        h("p", { class: "mode-note" }),
        h("div", { class: "sources" }),
        h("p", { class: "error", role: "alert" })));
    this.update(li, m);
    return li;
  }

  updateSoon(el, m) {
    if (el.pending) return;
    el.pending = requestAnimationFrame(() => {
      el.pending = null;
      this.update(el, m);
    });
  }

  update(el, m) {
    if (el.pending) {
      cancelAnimationFrame(el.pending);
      el.pending = null;
    }
    el.dataset.state = m.state;
    el.classList.toggle("refused", Boolean(m.refused));
    const byNumber = new Map(m.citations.map((c) => [c.n, c]));
    const cite = (n) => {
      const c = byNumber.get(n);
      return c ? this.citeButton(c, `[${n}]`, "cite") : null;
    };
    const sentences = m.state === "done" && !m.refused ? m.sentences || [] : [];
    el.querySelector(".answer").replaceChildren(
      sentences.length ? renderAnswer(sentences, cite) : renderMarkdown(m.content, cite));
    const note = el.querySelector(".mode-note");
    note.textContent = m.state === "done" ? modeNote(m, sentences) : "";
    note.hidden = !note.textContent;
    el.querySelector(".typing").hidden = !(m.state === "streaming" && !m.content);
    const sources = el.querySelector(".sources");
    sources.replaceChildren();
    if (m.citations.length && !m.refused) {
      sources.append(h("span", { class: "sources-label", text: "Sources" }),
        ...m.citations.map((c) => this.citeButton(c, `[${c.n}] ${c.file_name} · ${formatScore(c.score)}`, "chip")));
    }
    el.querySelector(".error").textContent = m.error || "";
    this.scroll();
  }

  citeButton(c, label, kind) {
    const button = h("button", { type: "button", class: kind, text: label, dataset: { n: String(c.n) },
      title: `${c.file_name}, score ${formatScore(c.score)}` });
    button.addEventListener("click", () => this.openPassage(c));
    return button;
  }

  openPassage(c) {
    $("#passage-title", this.dialog).textContent = `[${c.n}] ${c.file_name}`;
    const meta = [`score ${formatScore(c.score)}`];
    if (typeof c.rerank_score === "number") meta.push(`rerank ${formatScore(c.rerank_score)}`);
    if (c.chunk_ids && c.chunk_ids.length > 1) meta.push(`${c.chunk_ids.length} neighbouring chunks`);
    const md = c.metadata || {};
    const labels = { title: "title:", page_number: "p.", slide: "slide", sheet: "sheet", section: "section:" };
    for (const [key, label] of Object.entries(labels)) {
      const value = md[key];
      if (value === undefined || value === null || value === "" || value === c.file_name) continue;
      meta.push(`${label} ${value}`);
    }
    $("#passage-meta", this.dialog).textContent = meta.join(" · ");
    $("#passage-text", this.dialog).textContent = c.text;
    this.dialog.showModal();
  }

  scroll() {
    const pane = this.list.parentElement;
    const nearBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 120;
    if (nearBottom || this.controller === null) pane.scrollTop = pane.scrollHeight;
  }
}

// One line under a finished answer saying what produced it, or why it says nothing.
export function modeNote(m, sentences = []) {
  if (m.refused && m.refusedBy === "unsupported") return "The model's answer was not found in the passages, so it is not shown.";
  if (m.refused) return m.refusedBy === "model" ? "The model found no answer in the passages." : "";
  if (m.fallback === "no_llm") return "No language model is installed: quoted from the passages.";
  if (m.mode === "quote") return "Quoted from the passages, no language model.";
  const unsupported = sentences.filter((s) => s.unsupported).length;
  if (unsupported) {
    return unsupported === 1
      ? "The underlined sentence was not found in the passages."
      : `The ${unsupported} underlined sentences were not found in the passages.`;
  }
  return "";
}

function formatScore(score) {
  return typeof score === "number" ? score.toFixed(2) : "";
}
