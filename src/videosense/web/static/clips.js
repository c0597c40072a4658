// Clips on request, shared by the video page's panel and the search page's "Clip" buttons:
// POST /api/clips, poll the request's status until the clipper answers, show the files.
"use strict";

const vsClips = {
  // Send a request; resolves to {request_id, status_url, ...} (throws with the API's message).
  async request(body) {
    return vs.api("/api/clips", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  },

  // Poll a status URL until the answer is not pending; onUpdate gets every status read.
  async follow(statusUrl, onUpdate) {
    for (;;) {
      const status = await vs.api(statusUrl);
      onUpdate(status);
      if (status.status !== "pending") return status;
      await new Promise((resolve) => setTimeout(resolve, Math.min(vs.pollMs(), 2000)));
    }
  },

  // The selector in words: "person “Jane”", "0:01.0–0:04.0".
  describe(request) {
    const s = request.selector;
    if (!s) return "request from elsewhere";
    let what = s.from_s !== null && s.from_s !== undefined
      ? `${vs.time(s.from_s)}–${vs.time(s.to_s)}`
      : ["person", "label", "text", "say"].filter((k) => s[k]).map((k) => `${k} “${s[k]}”`).join("");
    const extras = [];
    if (request.pad_s) extras.push(`pad ${request.pad_s} s`);
    if (request.merge_gap_s) extras.push(`merge ${request.merge_gap_s} s`);
    if (request.supercut) extras.push("supercut");
    if (extras.length) what += ` (${extras.join(", ")})`;
    return what;
  },

  fileEntry(file, label) {
    const ranges = file.ranges.map((r) => `${vs.time(r.start_s, 2)}–${vs.time(r.end_s, 2)} ${r.method}${r.clamped ? " (clamped)" : ""}`).join("; ");
    const holder = vs.el("li", { class: "clip-file", dataset: { name: file.name } });
    const play = vs.el("button", { type: "button", class: "clip-play", onclick: () => {
      const existing = holder.querySelector("video");
      if (existing) { existing.remove(); return; }
      holder.append(vs.el("video", { class: "clip-player", src: file.url, controls: true, autoplay: true, playsinline: true }));
    } }, "▶ Play");
    holder.append(
      vs.el("a", { class: "clip-download", href: file.download_url, download: file.name, title: `link valid until ${vs.when(file.expires_at)}` },
        `⤓ ${label || file.name}`),
      " ", play,
      vs.el("span", { class: "muted" }, ` ${ranges} · ${Math.ceil(file.size_bytes / 1024)} KiB`));
    return holder;
  },

  // How an answer's source is shown.
  sources: {
    face_tracks: "Cut to the person's time on screen (face tracks).",
    scenes: "Whole scenes of the matching keyframes.",
  },

  // The body of an answer: progress, the reason, or the files.
  answer(status) {
    const box = vs.el("div", { class: "clip-answer", dataset: { status: status.status } });
    if (status.status === "pending") {
      box.append(vs.el("span", { class: "muted" }, "Cutting…"));
    } else if (status.status === "complete") {
      box.append(vs.el("ul", { class: "clip-files" },
        status.clips.map((f) => vsClips.fileEntry(f)),
        status.supercut_file ? vsClips.fileEntry(status.supercut_file, `supercut (${status.supercut_file.name})`) : null));
      // Where the ranges came from: a person's own time on screen, or whole scenes.
      const origin = vsClips.sources[status.source];
      if (origin) box.append(vs.el("span", { class: "muted clip-source" }, origin));
    } else {
      box.append(vs.el("span", { class: status.status === "failed" ? "error" : "muted" },
        status.reason || (status.status === "empty" ? "No moments found." : "Failed.")));
    }
    return box;
  },
};
