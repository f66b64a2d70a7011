// The conversations this browser keeps on the server with the open knowledge base, most recent
// first: a click reopens one, and each can be renamed or deleted.

import * as api from "./api.js";
import { $, confirmDialog, h } from "./dom.js";

const OPEN_STORAGE = "kb-server.conversation.";

// The conversation last open with `kb` in this browser, so a reload reopens it.
export function rememberedConversation(kb) {
  const id = Number.parseInt(localStorage.getItem(OPEN_STORAGE + kb) || "", 10);
  return Number.isFinite(id) ? id : null;
}

export function rememberConversation(kb, id) {
  if (id) localStorage.setItem(OPEN_STORAGE + kb, String(id));
  else localStorage.removeItem(OPEN_STORAGE + kb);
}

export class ConversationList {
  constructor(root, { open, renamed, deleted, failed }) {
    this.list = $("#conversation-list", root);
    this.empty = $("#conversations-empty", root);
    this.dialog = $("#rename-dialog");
    this.handlers = { open, renamed, deleted, failed };
    this.items = [];
    this.activeId = null;
    this.kb = null;
    $("#rename-cancel", this.dialog).addEventListener("click", () => this.dialog.close());
  }

  async refresh(kb, activeId) {
    this.kb = kb;
    this.activeId = activeId;
    try {
      const all = await api.listConversations();
      if (kb !== this.kb) return;
      this.items = all.filter((c) => c.kbs.includes(kb));
    } catch (err) {
      this.handlers.failed(`Could not list conversations: ${err.message}`);
    }
    this.render();
  }

  select(activeId) {
    this.activeId = activeId;
    this.render();
  }

  titleOf(id) {
    return this.items.find((c) => c.id === id)?.title || "";
  }

  render() {
    this.list.replaceChildren(...this.items.map((c) => this.item(c)));
    this.empty.hidden = this.items.length > 0;
  }

  item(c) {
    const title = c.title || "Untitled";
    return h("li", { dataset: { id: String(c.id) }, "aria-current": c.id === this.activeId ? "true" : "false" },
      h("button", { type: "button", class: "open", text: title, title, onclick: () => this.handlers.open(c.id) }),
      h("button", { type: "button", class: "rename", text: "✎", "aria-label": `Rename “${title}”`,
        onclick: () => this.rename(c) }),
      h("button", { type: "button", class: "delete", text: "×", "aria-label": `Delete “${title}”`,
        onclick: () => this.remove(c) }));
  }

  async rename(c) {
    const input = $("#rename-input", this.dialog);
    input.value = c.title;
    const form = $("#rename-form", this.dialog);
    const title = await new Promise((resolve) => {
      const submit = (e) => {
        e.preventDefault();
        this.dialog.close();
        resolve(input.value.trim());
      };
      form.addEventListener("submit", submit, { once: true });
      this.dialog.addEventListener("close", () => {
        form.removeEventListener("submit", submit);
        resolve("");
      }, { once: true });
      this.dialog.showModal();
      input.select();
    });
    if (!title || title === c.title) return;
    try {
      const updated = await api.renameConversation(c.id, title);
      this.items = this.items.map((item) => (item.id === c.id ? updated : item));
      this.render();
      this.handlers.renamed(updated);
    } catch (err) {
      this.handlers.failed(`Could not rename the conversation: ${err.message}`);
    }
  }

  async remove(c) {
    const question = `Delete the conversation “${c.title || "Untitled"}” and its messages?`;
    if (!(await confirmDialog(question, "Delete conversation"))) return;
    try {
      await api.deleteConversation(c.id);
    } catch (err) {
      if (err.status !== 404) {
        this.handlers.failed(`Could not delete the conversation: ${err.message}`);
        return;
      }
    }
    this.items = this.items.filter((item) => item.id !== c.id);
    this.render();
    this.handlers.deleted(c.id);
  }
}
