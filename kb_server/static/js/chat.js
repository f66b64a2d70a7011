// Chat with one knowledge base: the answer streams in token by token, then is replaced by the
// server's cited version (sentence by sentence, see answer.js); citation markers [n] open the
// cited passage. Conversations are kept on the server (conversations.js lists them): the first
// question creates one, and the server answers each question after its recent turns.

import { renderAnswer } from "./answer.js";
import * as api from "./api.js";
import { ConversationList, rememberConversation, rememberedConversation } from "./conversations.js";
import { $, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

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
    this.title = $("#chat-title", root);
    this.kb = null;
    this.allKbs = [];
    this.extraKbs = [];
    this.conversationId = null;
    this.messages = [];
    this.controller = null;
    this.conversations = new ConversationList(root, {
      open: (id) => this.open(id),
      renamed: (c) => {
        if (c.id === this.conversationId) this.title.textContent = c.title;
      },
      deleted: (id) => {
        if (id === this.conversationId) this.startNew();
      },
      failed: (message) => this.notice(message),
    });
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
      this.startNew();
      this.input.focus();
    });
    $("#passage-close", this.dialog).addEventListener("click", () => this.dialog.close());
    $("#also-ask-list", this.root).addEventListener("change", () => {
      // A conversation asks a fixed set of knowledge bases: another set starts a new one.
      const boxes = [...this.root.querySelectorAll("#also-ask-list input:checked")];
      this.extraKbs = boxes.map((b) => b.value);
      $("#also-ask", this.root).open = false;
      if (this.conversationId) this.startNew(this.extraKbs);
      else this.renderKbs();
    });
  }

  // The knowledge bases that exist: the others can be asked along with the open one.
  setKbs(names) {
    this.allKbs = names;
    this.extraKbs = this.extraKbs.filter((name) => names.includes(name) && name !== this.kb);
    this.renderKbs();
  }

  asked() {
    return [this.kb, ...this.extraKbs];
  }

  renderKbs() {
    const others = this.allKbs.filter((name) => name !== this.kb);
    $("#also-ask", this.root).hidden = others.length === 0;
    $("#also-ask-list", this.root).replaceChildren(...others.map((name) =>
      h("label", {}, h("input", { type: "checkbox", value: name, checked: this.extraKbs.includes(name) }), ` ${name}`)));
    $("#chat-kb", this.root).textContent = this.kb ? this.asked().join(" + ") : "";
  }

  show(kb) {
    if (kb === this.kb) return;
    this.controller?.abort();
    this.kb = kb;
    this.extraKbs = [];
    this.renderKbs();
    const remembered = kb ? rememberedConversation(kb) : null;
    if (remembered) this.open(remembered);
    else this.startNew();
  }

  startNew(extraKbs = []) {
    this.controller?.abort();
    this.extraKbs = extraKbs;
    this.renderKbs();
    this.setConversation(null, "");
    this.messages = [];
    this.renderAll();
    if (this.kb) this.conversations.refresh(this.kb, null);
  }

  setConversation(id, title) {
    this.conversationId = id;
    this.title.textContent = title;
    if (this.kb) rememberConversation(this.kb, id);
    this.conversations.select(id);
  }

  async open(id) {
    this.controller?.abort();
    const kb = this.kb;
    let detail;
    try {
      detail = await api.getConversation(id);
    } catch (err) {
      if (kb !== this.kb) return;
      if (err.status === 404) this.startNew();
      else this.notice(`Could not open the conversation: ${err.message}`);
      return;
    }
    if (kb !== this.kb) return;
    this.messages = detail.messages.map(fromServer);
    this.extraKbs = detail.kbs.filter((name) => name !== kb);
    this.renderKbs();
    this.setConversation(detail.id, detail.title);
    this.renderAll();
    this.conversations.refresh(kb, detail.id);
  }

  // A problem with the conversation list: shown as a failed reply would be, without losing the chat.
  notice(message) {
    const el = h("li", { class: "msg notice" }, h("p", { class: "error", role: "alert", text: message }));
    this.list.append(el);
    this.scroll();
  }

  async ensureConversation(kbs) {
    if (this.conversationId) return this.conversationId;
    const created = await api.createConversation(kbs);
    if (kbs[0] === this.kb) this.setConversation(created.id, created.title);
    return created.id;
  }

  options() {
    const body = {};
    const topK = Number.parseInt($("#opt-top-k", this.root).value, 10);
    const threshold = Number.parseFloat($("#opt-threshold", this.root).value);
    if (Number.isFinite(topK)) body.top_k = topK;
    if (Number.isFinite(threshold)) body.score_threshold = threshold;
    if ($("#opt-quote", this.root).checked) body.mode = "quote";
    if ($("#opt-as-typed", this.root).checked) body.rewrite = false;
    return body;
  }

  async ask() {
    const question = this.input.value.trim();
    if (!question || this.controller || !this.kb) return;
    const kb = this.kb;
    const kbs = this.asked();
    const reply = { role: "assistant", content: "", citations: [], refused: false, state: "streaming", error: "" };
    this.messages.push({ role: "user", content: question, state: "done" }, reply);
    this.input.value = "";
    this.renderAll();
    const controller = new AbortController();
    this.controller = controller;
    this.busy(true);
    const el = this.list.lastElementChild;
    try {
      const conversationId = await this.ensureConversation(kbs);
      const asked = kbs.length > 1 ? { kbs } : { kb };
      await api.streamChat({ ...asked, question, conversation_id: conversationId, ...this.options() }, {
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
          reply.searchedFor = done.searched_for || null;
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
    if (reply.state === "done") this.conversations.refresh(kb, this.conversationId);
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
        h("p", { class: "searched-for" }),
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
    el.dataset.mode = m.mode || "";
    el.classList.toggle("refused", Boolean(m.refused));
    const searched = el.querySelector(".searched-for");
    searched.textContent = m.searchedFor ? `Searched for: ${m.searchedFor}` : "";
    searched.hidden = !m.searchedFor;
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
        ...m.citations.map((c) => this.citeButton(c, `[${c.n}] ${this.sourceName(c)} · ${formatScore(c.score)}`, "chip")));
    }
    el.querySelector(".error").textContent = m.error || "";
    this.scroll();
  }

  // A passage's file, and its knowledge base when several are asked.
  sourceName(c) {
    return c.kb && this.asked().length > 1 ? `${c.kb}: ${c.file_name}` : c.file_name;
  }

  citeButton(c, label, kind) {
    const button = h("button", { type: "button", class: kind, text: label, dataset: { n: String(c.n) },
      title: `${c.source_url || c.file_name}, score ${formatScore(c.score)}` });
    button.addEventListener("click", () => this.openPassage(c));
    return button;
  }

  openPassage(c) {
    $("#passage-title", this.dialog).textContent = `[${c.n}] ${c.file_name}`;
    const meta = c.kb ? [`knowledge base ${c.kb}`, `score ${formatScore(c.score)}`] : [`score ${formatScore(c.score)}`];
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
    const source = $("#passage-source", this.dialog);
    const url = /^https?:\/\//i.test(c.source_url || "") ? c.source_url : "";
    const link = url && h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url });
    source.replaceChildren(...(link ? [link] : []));
    source.hidden = !url;
    $("#passage-text", this.dialog).textContent = c.text;
    this.dialog.showModal();
  }

  scroll() {
    const pane = this.list.parentElement;
    const nearBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 120;
    if (nearBottom || this.controller === null) pane.scrollTop = pane.scrollHeight;
  }
}


// A stored message as the page shows it (the server keeps what the `done` event said).
function fromServer(m) {
  if (m.role === "user") return { role: "user", content: m.content, state: "done" };
  return {
    role: "assistant",
    content: m.content,
    citations: m.citations || [],
    sentences: m.sentences || [],
    refused: Boolean(m.refused),
    refusedBy: m.refused_by || null,
    mode: m.mode || "generate",
    searchedFor: m.searched_for || null,
    state: "done",
    error: "",
  };
}

// One line under a finished answer saying what produced it, or why it says nothing.
export function modeNote(m, sentences = []) {
  if (m.refused && m.refusedBy === "unsupported") return "The model's answer was not found in the passages, so it is not shown.";
  if (m.refused) return m.refusedBy === "model" ? "The model found no answer in the passages." : "";
  if (m.fallback === "no_llm") return "No language model is installed: quoted from the passages.";
  if (m.fallback === "restated") return "The model only restated the question: quoted from the passages.";
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
