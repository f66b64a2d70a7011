// A tiny, safe markdown subset for model output: paragraphs, **bold**, `code`, fenced code
// blocks and lists, plus citation markers [n]. It builds DOM nodes from text only: no HTML in
// the input is ever parsed, no link is followed and no image is loaded.

import { h } from "./dom.js";

export const FENCE = /^\s*(```|~~~)/;
const LIST_ITEM = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/;
const HEADING = /^\s*#{1,6}\s+(.*)$/;
const INLINE = /(`+)([\s\S]*?)\1|\*\*([\s\S]+?)\*\*|\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

// `cite(n)` returns the element for a citation marker, or null to keep "[n]" as text.
export function renderMarkdown(text, cite = () => null) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null;

  const flushParagraph = () => {
    if (!paragraph.length) return;
    const p = h("p");
    paragraph.forEach((line, i) => {
      if (i) p.append(h("br"));
      p.append(renderInline(line, cite));
    });
    out.append(p);
    paragraph = [];
  };
  const closeList = () => {
    list = null;
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flushParagraph();
      closeList();
      const body = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence[1]); i += 1) body.push(lines[i]);
      out.append(h("pre", {}, h("code", { text: body.join("\n") })));
      continue;
    }
    if (!line.trim()) {
      flushParagraph();
      closeList();
      continue;
    }
    const item = line.match(LIST_ITEM);
    if (item) {
      flushParagraph();
      const tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag);
        if (tag === "ol" && item[2] !== "1") list.start = Number(item[2]);
        out.append(list);
      }
      list.append(h("li", {}, renderInline(item[3], cite)));
      continue;
    }
    if (list) {
      // A wrapped line continues the last list item.
      list.lastElementChild.append(" ", renderInline(line.trim(), cite));
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      flushParagraph();
      out.append(h("p", {}, h("strong", {}, renderInline(heading[1], cite))));
      continue;
    }
    paragraph.push(line);
  }
  flushParagraph();
  return out;
}

export function renderInline(text, cite = () => null) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    out.append(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[1]) out.append(h("code", { text: match[2] }));
    else if (match[3]) out.append(h("strong", {}, renderInline(match[3], cite)));
    else out.append(renderCitations(match[0], match[4], cite));
  }
  out.append(text.slice(last));
  return out;
}

function renderCitations(raw, numbers, cite) {
  const parts = numbers.split(",").map((n) => Number(n.trim()));
  const elements = parts.map((n) => cite(n));
  if (elements.some((el) => !el)) return document.createTextNode(raw);
  const out = document.createDocumentFragment();
  elements.forEach((el) => out.append(el));
  return out;
}
