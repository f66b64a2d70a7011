// A finished answer, sentence by sentence: each sentence is a span followed by the [n] buttons
// of the passages that back it; one no passage backs is marked "unsupported". The layout the
// model wrote (paragraphs, lists, headings, code blocks) comes from each sentence's `before`.
// Everything is built from text nodes: nothing the model or a passage wrote is parsed as HTML.

import { h } from "./dom.js";
import { FENCE, renderInline } from "./markdown.js";

export const UNSUPPORTED_TITLE = "Not found in the passages";

const BULLET = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+$/;
const HEADING = /^\s*#{1,6}\s+$/;

// `cite(n)` returns the button for passage n, or null when there is no such passage.
export function renderAnswer(sentences, cite) {
  const out = document.createDocumentFragment();
  let block = null; // where the current line's sentences go: a <p>, <li> or heading <strong>
  let kind = null;
  let list = null;

  const paragraph = () => {
    list = null;
    block = h("p");
    kind = "p";
    out.append(block);
  };

  sentences.forEach((s, i) => {
    const before = s.before || "";
    const lineStart = i === 0 || before.includes("\n");
    const prefix = before.slice(before.lastIndexOf("\n") + 1);
    if (FENCE.test(s.text)) {
      list = null;
      block = null;
      kind = null;
      out.append(codeSentence(s, cite));
      return;
    }
    if (lineStart) {
      const item = prefix.match(BULLET);
      if (item) {
        const tag = item[1] ? "ul" : "ol";
        if (before.includes("\n\n") || !list || list.tagName.toLowerCase() !== tag) {
          list = h(tag);
          if (tag === "ol" && item[2] !== "1") list.start = Number(item[2]);
          out.append(list);
        }
        block = h("li");
        kind = "li";
        list.append(block);
      } else if (HEADING.test(prefix)) {
        paragraph();
        const strong = h("strong");
        block.append(strong);
        block = strong;
        kind = "heading";
      } else if (i === 0 || before.includes("\n\n") || (kind !== "p" && kind !== "li")) {
        paragraph();
      } else if (kind === "li") {
        block.append(" "); // a wrapped line continues the list item
      } else {
        block.append(h("br"));
      }
    } else if (block) {
      block.append(before);
    } else {
      paragraph();
    }
    block.append(sentenceSpan(s, cite));
  });
  return out;
}

function sentenceSpan(s, cite) {
  const span = h("span", { class: s.unsupported ? "sentence unsupported" : "sentence",
    title: s.unsupported ? UNSUPPORTED_TITLE : null });
  span.append(renderInline(s.text, () => null), ...citeButtons(s, cite));
  return span;
}

function codeSentence(s, cite) {
  const lines = s.text.split("\n");
  const body = lines.slice(1, FENCE.test(lines.at(-1)) && lines.length > 1 ? -1 : undefined);
  const div = h("div", { class: s.unsupported ? "sentence code unsupported" : "sentence code",
    title: s.unsupported ? UNSUPPORTED_TITLE : null },
    h("pre", {}, h("code", { text: body.join("\n") })));
  div.append(...citeButtons(s, cite));
  return div;
}

function citeButtons(s, cite) {
  return (s.citations || []).map((n) => cite(n)).filter(Boolean);
}
