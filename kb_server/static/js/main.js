// Page start-up: the knowledge-base picker, the Files / Chat views and the API-key prompt.
// The location hash (#/kb/<name>/<view>) names what is shown, so a reload comes back to it.

import * as api from "./api.js";
import { ChatView } from "./chat.js";
import { rememberConversation } from "./conversations.js";
import { $, confirmDialog, h } from "./dom.js";
import { FilesView } from "./files.js";
import { WebPageForm } from "./webpages.js";

const LAST_KB = "kb-server.kb";
const VIEWS = ["files", "chat"];

const state = { kbs: [], kb: null, view: "files" };

const banner = $("#banner");
const select = $("#kb-select");

function showError(message) {
  banner.replaceChildren(h("span", { text: message }),
    h("button", { type: "button", class: "small", text: "Dismiss", onclick: () => { banner.hidden = true; } }));
  banner.hidden = false;
}

function kbGone(name) {
  showError(`The knowledge base “${name}” no longer exists.`);
  loadKbs();
}

const files = new FilesView($("#view-files"), {
  onError: showError,
  onKbGone: kbGone,
  onChange: (list) => {
    const kb = state.kbs.find((k) => k.name === state.kb);
    if (kb && kb.files !== list.length) {
      kb.files = list.length;
      renderPicker();
    }
  },
});
new WebPageForm($("#web-page-form"), { kb: () => state.kb, onFetched: () => files.refresh() });
const chat = new ChatView($("#view-chat"), { onKbGone: kbGone });

function parseHash() {
  const match = location.hash.match(/^#\/kb\/([^/]+)(?:\/(\w+))?/);
  if (!match) return { kb: null, view: "files" };
  return { kb: decodeURIComponent(match[1]), view: VIEWS.includes(match[2]) ? match[2] : "files" };
}

function go(kb, view = state.view) {
  const hash = kb ? `#/kb/${encodeURIComponent(kb)}/${view}` : "#";
  if (location.hash !== hash) location.hash = hash;
  else route();
}

function route() {
  const wanted = parseHash();
  const names = state.kbs.map((k) => k.name);
  let kb = names.includes(wanted.kb) ? wanted.kb : null;
  if (!kb) {
    const last = localStorage.getItem(LAST_KB);
    kb = names.includes(last) ? last : names[0] || null;
    if (kb) {
      history.replaceState(null, "", `#/kb/${encodeURIComponent(kb)}/${wanted.view}`);
    }
  }
  state.kb = kb;
  state.view = wanted.view;
  if (kb) localStorage.setItem(LAST_KB, kb);
  renderPicker();
  for (const view of VIEWS) {
    const tab = $(`#tab-${view}`);
    const active = view === state.view;
    tab.setAttribute("aria-current", active ? "page" : "false");
    tab.href = kb ? `#/kb/${encodeURIComponent(kb)}/${view}` : "#";
    $(`#view-${view}`).hidden = !kb || !active;
  }
  $("#view-empty").hidden = Boolean(kb);
  $("#kb-delete").disabled = !kb;
  document.body.dataset.view = kb ? state.view : "empty";
  files.show(kb);
  chat.show(kb);
  chat.setKbs(names);
  document.title = kb ? `${kb} · kb-server` : "kb-server";
}

function renderPicker() {
  select.replaceChildren(...state.kbs.map((kb) => {
    const count = `${kb.files} file${kb.files === 1 ? "" : "s"}`;
    return h("option", { value: kb.name, text: `${kb.name} (${count})`, selected: kb.name === state.kb });
  }));
  select.disabled = state.kbs.length === 0;
  if (!state.kbs.length) select.append(h("option", { text: "no knowledge base yet", value: "" }));
}

async function loadKbs() {
  try {
    state.kbs = await api.listKbs();
    banner.hidden = true;
  } catch (err) {
    showError(`Could not load the knowledge bases: ${err.message}`);
  }
  route();
}

function bindKbControls() {
  select.addEventListener("change", () => go(select.value));
  const dialog = $("#kb-dialog");
  const form = $("#kb-form");
  const error = $("#kb-form-error");
  const openCreate = () => {
    form.reset();
    error.textContent = "";
    dialog.showModal();
  };
  $("#kb-new").addEventListener("click", openCreate);
  $("#kb-new-empty").addEventListener("click", openCreate);
  $("#kb-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#kb-name").value.trim();
    const description = $("#kb-description").value.trim();
    try {
      await api.createKb(name, description);
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    dialog.close();
    state.kbs = await api.listKbs();
    go(name, "files");
  });
  $("#kb-delete").addEventListener("click", async () => {
    const kb = state.kb;
    if (!kb) return;
    const question = `Delete the knowledge base “${kb}” with all its files, chunks and vectors? This cannot be undone.`;
    if (!(await confirmDialog(question, "Delete knowledge base"))) return;
    try {
      await api.deleteKb(kb);
    } catch (err) {
      if (err.code !== "kb_not_found") {
        showError(`Could not delete “${kb}”: ${err.message}`);
        return;
      }
    }
    rememberConversation(kb, null);
    if (localStorage.getItem(LAST_KB) === kb) localStorage.removeItem(LAST_KB);
    state.kbs = state.kbs.filter((k) => k.name !== kb);
    go(state.kbs[0]?.name || null, state.view);
    loadKbs();
  });
}

function bindConfirmDialog() {
  const dialog = $("#confirm-dialog");
  $("#confirm-ok").addEventListener("click", () => dialog.close("ok"));
  $("#confirm-cancel").addEventListener("click", () => dialog.close("cancel"));
}

// The server asked for an API key (401): ask the user, once per refusal.
const forgetKey = $("#key-forget");

function askForKey(refused) {
  const dialog = $("#key-dialog");
  const form = $("#key-form");
  const input = $("#key-input");
  const cancel = $("#key-cancel");
  $("#key-refused").hidden = !refused;
  input.value = "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    const submit = (e) => {
      e.preventDefault();
      dialog.close(input.value.trim() ? "ok" : "cancel");
    };
    const dismiss = () => dialog.close("cancel");
    form.addEventListener("submit", submit);
    cancel.addEventListener("click", dismiss);
    dialog.addEventListener("close", () => {
      form.removeEventListener("submit", submit);
      cancel.removeEventListener("click", dismiss);
      const key = dialog.returnValue === "ok" ? input.value.trim() : null;
      forgetKey.hidden = !key && !api.apiKey();
      resolve(key);
    }, { once: true });
  });
}

forgetKey.hidden = !api.apiKey();
forgetKey.addEventListener("click", () => {
  api.setApiKey("");
  forgetKey.hidden = true;
  loadKbs();
});
api.setKeyPrompt(askForKey);
bindKbControls();
bindConfirmDialog();
window.addEventListener("hashchange", route);
loadKbs();
