// Search: every matching frame and transcript segment, grouped by video; a hit opens the video
// at its time, and its "Clip" button cuts the moments it stands for (shown under the hit).
"use strict";

(() => {
  const form = document.getElementById("search-form");
  const input = document.getElementById("search-q");
  const summary = document.getElementById("search-summary");
  const errorLine = document.getElementById("search-error");
  const results = document.getElementById("results");
  const params = new URLSearchParams(location.search);

  // The form shows what the URL asks for.
  if (params.get("mode")) document.getElementById("search-mode").value = params.get("mode");
  if (params.getAll("kind").length) {
    for (const box of form.querySelectorAll("input[name=kind]")) box.checked = params.getAll("kind").includes(box.value);
  }

  // Caption hits have no selector of their own: the clip is the hit's time ± this many seconds.
  const CAPTION_AROUND_S = 3;

  // What a hit's clip selects: people and labels by the hit's name; on-screen text and speech
  // by the query words when they were searched as a phrase (every moment they appear), else by
  // the hit's own line or segment; a caption by the time around the hit.
  function selectorFor(h, query) {
    const words = query.get("q") || "";
    const phrase = (query.get("mode") || "phrase") === "phrase" && words.trim() ? words.trim() : h.text;
    switch (h.kind) {
      case "person": return { person: h.text };
      case "label": return { label: h.text };
      case "text": return { text: phrase };
      case "transcript": return { say: phrase };
      default: return { from_s: Math.max(0, h.t_s - CAPTION_AROUND_S), to_s: h.t_s + CAPTION_AROUND_S };
    }
  }

  async function clip(videoId, h, query, holder, button) {
    const selector = selectorFor(h, query);
    button.disabled = true;
    holder.replaceChildren(vs.el("span", { class: "muted" }, `Clipping ${vsClips.describe({ selector })}…`));
    try {
      const accepted = await vsClips.request({ video_id: videoId, selector });
      await vsClips.follow(accepted.status_url, (status) => {
        holder.dataset.status = status.status;
        holder.replaceChildren(vsClips.answer(status),
          vs.el("a", { class: "muted", href: `/videos/${encodeURIComponent(videoId)}#clips` }, "all clips of this video"));
      });
    } catch (error) {
      holder.replaceChildren(vs.el("span", { class: "error" }, `Cannot clip: ${error.message}`));
    } finally {
      button.disabled = false;
    }
  }

  function hit(videoId, h, query) {
    const image = h.keyframe_id
      ? vs.el("img", { class: "hit-thumb", src: vs.keyframeUrl(videoId, h.keyframe_id), alt: "", loading: "lazy" })
      : vs.el("span", { class: "hit-thumb transcript-icon" }, "“”");
    const when = h.end_s !== null && h.end_s !== undefined ? `${vs.time(h.t_s)}–${vs.time(h.end_s)}` : vs.time(h.t_s);
    const result = vs.el("div", { class: "hit-clip" });
    const button = vs.el("button", { type: "button", class: "clip-hit", title: "Cut this moment into an MP4" }, "✂ Clip");
    button.addEventListener("click", () => clip(videoId, h, query, result, button));
    return vs.el("li", { class: "hit-row" },
      vs.el("div", { class: "hit-line" },
        vs.el("a", { class: "hit", href: `/videos/${encodeURIComponent(videoId)}?t=${h.t_s}`, dataset: { t: h.t_s, kind: h.kind } },
          image,
          vs.el("span", { class: "hit-time" }, when),
          vs.el("span", { class: `badge kind-${h.kind}` }, h.kind),
          h.speaker ? vs.el("span", { class: "speaker" }, `${h.speaker}: `) : null,
          vs.el("span", { class: "snippet" }, vs.snippet(h.snippet))),
        button),
      result);
  }

  async function run(query) {
    errorLine.hidden = true;
    summary.textContent = "Searching…";
    try {
      const answer = await vs.api(`/api/search?${query}`);
      const count = answer.videos.reduce((n, v) => n + v.hits.length, 0);
      summary.textContent = count
        ? `${answer.total_hits} match${answer.total_hits === 1 ? "" : "es"} in ${answer.videos.length} video${answer.videos.length === 1 ? "" : "s"}`
        : "Nothing found.";
      results.replaceChildren(...answer.videos.map((v) =>
        vs.el("section", { class: "result-video", dataset: { videoId: v.video_id } },
          vs.el("h2", {}, vs.el("a", { href: `/videos/${encodeURIComponent(v.video_id)}` }, v.source_key.split("/").pop()),
            " ", vs.badge(v.status), v.duration_s ? vs.el("span", { class: "muted" }, ` ${vs.time(v.duration_s, 0)}`) : null),
          vs.el("ol", { class: "hits" }, v.hits.map((h) => hit(v.video_id, h, query))))));
    } catch (error) {
      summary.textContent = "";
      results.replaceChildren();
      errorLine.textContent = error.status === 422 ? `Cannot search for that: ${error.message}` : `Search failed: ${error.message}`;
      errorLine.hidden = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(form));
    history.replaceState(null, "", `/search?${query}`);
    run(query);
  });

  if (input.value.trim()) run(new URLSearchParams(new FormData(form)));
})();
