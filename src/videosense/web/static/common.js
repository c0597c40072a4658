// Helpers every page uses: the JSON API, building elements, times, safe snippets.
"use strict";

const vs = {
  pollMs() {
    return Number(document.body.dataset.pollMs) || 3000;
  },

  // GET (or another method) a JSON API path; throws an Error carrying the API's own message.
  async api(path, options = {}) {
    const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(vs.detail(body) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return body;
  },

  // The readable part of an error answer: FastAPI's "detail", a string or validation errors.
  detail(body) {
    if (!body || body.detail === undefined) return "";
    if (typeof body.detail === "string") return body.detail;
    return body.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  },

  // el("a", {href: "/x", class: "y"}, "text", child): attributes are set, never parsed as HTML.
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  },

  // 75.3 -> "1:15.3"; 3725 -> "1:02:05".
  time(seconds, decimals = 1) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    const s = Math.max(0, seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = (s % 60).toFixed(h ? 0 : decimals).padStart(h ? 2 : (decimals ? 3 + decimals : 2), "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  },

  seconds(from, to) {
    if (!from || !to) return "";
    return `${((new Date(to) - new Date(from)) / 1000).toFixed(1)} s`;
  },

  when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  },

  // A search snippet marks matches with <mark>; everything else is text. The snippet is
  // HTML-escaped by the index, but on-screen text is anyone's input: only <mark> is trusted,
  // the rest is decoded and inserted as text.
  snippet(html) {
    const out = document.createDocumentFragment();
    const decoder = document.createElement("textarea");
    let marked = false;
    for (const part of String(html).split(/(<mark>|<\/mark>)/)) {
      if (part === "<mark>") { marked = true; continue; }
      if (part === "</mark>") { marked = false; continue; }
      decoder.innerHTML = part;
      const text = document.createTextNode(decoder.value);
      out.append(marked ? vs.el("mark", {}, text) : text);
    }
    return out;
  },

  badge(text, kind) {
    return vs.el("span", { class: `badge status-${kind || text}` }, text);
  },

  stageBadges(stages) {
    return vs.el(
      "span",
      { class: "stage-badges" },
      Object.entries(stages || {}).map(([stage, info]) =>
        vs.el("span", { class: `badge stage status-${info.status}`, title: info.error || info.status, dataset: { stage } },
          `${stage} ${info.status}`)
      )
    );
  },

  keyframeUrl(videoId, keyframeId) {
    return `/api/videos/${encodeURIComponent(videoId)}/keyframes/${encodeURIComponent(keyframeId)}.jpg`;
  },
};
