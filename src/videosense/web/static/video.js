// A video: the player on a presigned URL, scenes and keyframes (click to seek, boxes on hover),
// the transcript following the player, the stages, and the clips panel. Polls the document while
// it is processing.
"use strict";

(() => {
  const page = document.getElementById("video-page");
  const videoId = page.dataset.videoId;
  const startS = Number(page.dataset.startS) || 0;
  const player = document.getElementById("player");
  let segments = []; // [{start_s, end_s, li}]
  let rendered = ""; // what the last render showed, to skip identical refreshes
  let mediaRetried = false;

  function seek(seconds) {
    player.currentTime = seconds;
    player.play().catch(() => { /* autoplay refused: the position is set all the same */ });
  }

  async function loadMedia(keepPosition) {
    const media = await vs.api(`/api/videos/${videoId}/media`);
    const position = keepPosition ? player.currentTime : startS;
    player.src = media.url;
    player.addEventListener("loadedmetadata", () => {
      if (position > 0) player.currentTime = position;
      page.dataset.mediaReady = "true";
    }, { once: true });
  }

  // A URL that expired while the page stayed open: ask for a fresh one, once.
  player.addEventListener("error", () => {
    if (mediaRetried) {
      const line = document.getElementById("player-error");
      line.textContent = "The video cannot be played (it may have been deleted).";
      line.hidden = false;
      return;
    }
    mediaRetried = true;
    loadMedia(true).catch(() => {});
  });

  function renderFacts(doc) {
    const status = document.getElementById("video-status");
    status.textContent = doc.status;
    status.className = `badge status-${doc.status}`;
    const facts = [];
    if (doc.media) {
      facts.push(vs.time(doc.media.duration_s, 1));
      if (doc.media.video_codec) facts.push(`${doc.media.width}×${doc.media.height}`, `${doc.media.fps.toFixed(2)} fps`, doc.media.video_codec);
      if (doc.media.has_audio) facts.push("audio");
    }
    const bytes = doc.source.size_bytes;
    facts.push(bytes < 1048576 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`);
    document.getElementById("video-facts").textContent = facts.join(" · ");
    const error = document.getElementById("video-error");
    error.textContent = doc.error || "";
    error.hidden = !doc.error;
  }

  function renderTimeline(doc) {
    const timeline = document.getElementById("timeline");
    const total = (doc.media && doc.media.duration_s) || 1;
    timeline.replaceChildren(...doc.scenes.map((scene) => {
      const frames = doc.keyframes.filter((k) => k.scene_index === scene.index);
      return vs.el(
        "div",
        { class: "scene", style: `flex-grow: ${Math.max(scene.end_s - scene.start_s, total / 200)}`, dataset: { sceneIndex: scene.index } },
        vs.el("button", { type: "button", class: "scene-seek", title: `Scene ${scene.index + 1}`, onclick: () => { seek(scene.start_s); clipRange(scene.start_s, scene.end_s); } },
          `${scene.index + 1} · ${vs.time(scene.start_s)}`),
        vs.el("div", { class: "scene-frames" }, frames.map((k) =>
          vs.el("img", { src: vs.keyframeUrl(videoId, k.id), alt: `keyframe at ${vs.time(k.t_s)}`, title: vs.time(k.t_s),
            class: "scene-frame", loading: "lazy", dataset: { keyframeId: k.id }, onclick: () => seek(k.t_s) })))
      );
    }));
  }

  function box(b, text, kind) {
    if (!b) return null;
    return vs.el("div", {
      class: `box box-${kind}`,
      style: `left:${b.left * 100}%;top:${b.top * 100}%;width:${b.width * 100}%;height:${b.height * 100}%`,
    }, vs.el("span", {}, text));
  }

  function findings(title, items) {
    if (!items.length) return null;
    return vs.el("div", { class: "findings" }, vs.el("h4", {}, title), vs.el("ul", {}, items));
  }

  function renderKeyframes(doc) {
    const holder = document.getElementById("keyframes");
    if (!doc.keyframes.length) {
      holder.replaceChildren(vs.el("p", { class: "muted" }, doc.media && !doc.media.video_codec ? "Audio only: no keyframes." : "No keyframes yet."));
      return;
    }
    holder.replaceChildren(...doc.keyframes.map((k) => {
      const boxes = [
        ...k.faces.map((f) => box(f.box, f.name || "face", "face")),
        ...k.text.map((t) => box(t.box, t.text, "text")),
        ...k.labels.map((l) => box(l.box, l.name, "label")),
      ].filter(Boolean);
      const faces = k.faces.map((f) => vs.el("li", {}, f.name || "unknown face", vs.el("span", { class: "muted" }, ` ${f.confidence.toFixed(0)}%`)));
      return vs.el(
        "article",
        { class: "keyframe", id: `kf-${k.id}`, dataset: { keyframeId: k.id, t: k.t_s } },
        vs.el("figure", { class: "frame" },
          vs.el("img", { src: vs.keyframeUrl(videoId, k.id), alt: k.caption || `keyframe at ${vs.time(k.t_s)}`, loading: "lazy" }),
          boxes),
        vs.el("button", { type: "button", class: "seek", onclick: () => seek(k.t_s) }, `▶ ${vs.time(k.t_s)}`),
        k.caption ? vs.el("p", { class: "caption" }, k.caption) : null,
        findings("Faces", faces),
        findings("Text", k.text.map((t) => vs.el("li", {}, t.text))),
        findings("Labels", k.labels.map((l) => vs.el("li", {}, l.name, vs.el("span", { class: "muted" }, ` ${l.confidence.toFixed(0)}%`))))
      );
    }));
  }

  function renderTranscript(doc) {
    const list = document.getElementById("transcript");
    const language = document.getElementById("transcript-language");
    if (!doc.transcript) {
      language.textContent = doc.stages.transcript ? `Transcript ${doc.stages.transcript.status}.` : "No transcript requested.";
      list.replaceChildren();
      segments = [];
      return;
    }
    language.textContent = doc.transcript.language ? `Language: ${doc.transcript.language}` : "";
    segments = doc.transcript.segments.map((segment) => {
      const li = vs.el("li", { class: "segment", dataset: { start: segment.start_s } , onclick: () => seek(segment.start_s) },
        vs.el("span", { class: "segment-time" }, vs.time(segment.start_s)),
        segment.speaker ? vs.el("span", { class: "speaker" }, `${segment.speaker}: `) : null,
        segment.text);
      return { start_s: segment.start_s, end_s: segment.end_s, li };
    });
    list.replaceChildren(...segments.map((s) => s.li));
    if (!segments.length) list.replaceChildren(vs.el("li", { class: "muted" }, "No speech found."));
  }

  function renderStages(doc) {
    document.getElementById("stages").replaceChildren(...Object.entries(doc.stages).map(([stage, info]) =>
      vs.el("tr", { dataset: { stage } },
        vs.el("td", {}, stage),
        vs.el("td", {}, vs.badge(info.status)),
        vs.el("td", {}, [info.backend, info.model].filter(Boolean).join(" / ")),
        vs.el("td", {}, vs.seconds(info.queued_at, info.started_at) ? `waited ${vs.seconds(info.queued_at, info.started_at)}` : ""),
        vs.el("td", {}, vs.seconds(info.started_at, info.finished_at)),
        vs.el("td", { class: "error" }, info.error || ""))));
  }

  // The transcript line being said now, and the keyframe last shown, follow the player.
  player.addEventListener("timeupdate", () => {
    const t = player.currentTime;
    for (const segment of segments) {
      const current = segment.start_s <= t && t < segment.end_s;
      if (current && !segment.li.classList.contains("current")) {
        segment.li.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
      segment.li.classList.toggle("current", current);
    }
  });

  // --- Clips: the form, the values the document offers, and the requests with their files.
  const clipForm = document.getElementById("clip-form");
  const clipStatus = document.getElementById("clip-status");
  const clipRequests = document.getElementById("clip-requests");
  const clipFrom = document.getElementById("clip-from");
  const clipTo = document.getElementById("clip-to");
  const clipValue = document.getElementById("clip-value");
  let duration = null;
  let offered = { person: [], label: [], text: [], say: [] };
  const followed = new Set(); // requests being polled

  function clipRange(from, to) {
    clipFrom.value = from.toFixed(2);
    clipTo.value = to.toFixed(2);
    clipForm.querySelector("input[name=clip-by][value=range]").checked = true;
    clipBy();
  }

  function clipBy() {
    const by = clipForm.querySelector("input[name=clip-by]:checked").value;
    document.getElementById("clip-range").hidden = by !== "range";
    document.getElementById("clip-value-row").hidden = by === "range";
    clipFrom.required = clipTo.required = by === "range";
    clipValue.required = by !== "range";
    if (by !== "range") {
      clipValue.placeholder = { person: "a name", label: "a label, e.g. Dog", text: "words on screen", say: "words said" }[by];
      document.getElementById("clip-values").replaceChildren(...offered[by].map((v) => vs.el("option", { value: v })));
    }
  }

  function offerValues(doc) {
    const unique = (values) => [...new Set(values.filter(Boolean))].sort((a, b) => a.localeCompare(b));
    offered = {
      person: unique(doc.keyframes.flatMap((k) => k.faces.map((f) => f.name))),
      label: unique(doc.keyframes.flatMap((k) => k.labels.map((l) => l.name))),
      text: unique(doc.keyframes.flatMap((k) => k.text.map((t) => t.text))),
      say: unique(doc.transcript ? doc.transcript.segments.map((s) => s.text) : []),
    };
    duration = doc.media ? doc.media.duration_s : null;
    clipBy();
  }

  function renderRequest(status) {
    const id = `clip-${status.request_id}`;
    const item = vs.el("li", { class: "clip-request", id, dataset: { requestId: status.request_id, status: status.status } },
      vs.el("div", {}, vs.badge(status.status), " ", vsClips.describe(status),
        status.requested_at ? vs.el("span", { class: "muted" }, ` · ${vs.when(status.requested_at)}`) : null),
      vsClips.answer(status));
    const existing = document.getElementById(id);
    if (existing) existing.replaceWith(item);
    else clipRequests.prepend(item);
  }

  function follow(statusUrl) {
    if (followed.has(statusUrl)) return;
    followed.add(statusUrl);
    vsClips.follow(statusUrl, renderRequest)
      .then(() => { if (!followed.size || followed.size === 1) clipStatus.textContent = ""; })
      .catch((error) => { clipStatus.textContent = `Could not read a clip request: ${error.message}`; })
      .finally(() => followed.delete(statusUrl));
  }

  async function loadRequests() {
    const history = await vs.api(`/api/videos/${videoId}/clips`);
    clipRequests.replaceChildren();
    for (const status of history.requests.slice().reverse()) {
      renderRequest(status);
      if (status.status === "pending") follow(status.status_url);
    }
  }

  document.getElementById("clip-at-player").addEventListener("click", () => {
    const from = player.currentTime || 0;
    clipRange(from, duration ? Math.min(from + 5, duration) : from + 5);
  });
  for (const radio of clipForm.querySelectorAll("input[name=clip-by]")) radio.addEventListener("change", clipBy);

  clipForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const by = clipForm.querySelector("input[name=clip-by]:checked").value;
    const selector = by === "range"
      ? { from_s: Number(clipFrom.value), to_s: Number(clipTo.value) }
      : { [by]: clipValue.value.trim() };
    const body = {
      video_id: videoId,
      selector,
      pad_s: Number(document.getElementById("clip-pad").value) || 0,
      merge_gap_s: Number(document.getElementById("clip-merge").value) || 0,
      supercut: document.getElementById("clip-supercut").checked,
    };
    const button = document.getElementById("clip-submit");
    button.disabled = true;
    clipStatus.className = "muted";
    clipStatus.textContent = "Sending…";
    try {
      const accepted = await vsClips.request(body);
      clipStatus.textContent = "Requested; the clipper is cutting.";
      renderRequest({ ...accepted, ...body, requested_at: new Date().toISOString(), clips: [] });
      follow(accepted.status_url);
    } catch (error) {
      clipStatus.className = "error";
      clipStatus.textContent = `Cannot cut that: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });

  async function refresh() {
    const doc = await vs.api(`/api/videos/${videoId}`);
    const shape = JSON.stringify([doc.status, doc.stages, doc.scenes.length, doc.keyframes, doc.transcript]);
    if (shape !== rendered) {
      rendered = shape;
      renderFacts(doc);
      renderTimeline(doc);
      renderKeyframes(doc);
      renderTranscript(doc);
      renderStages(doc);
      offerValues(doc);
    }
    page.dataset.status = doc.status;
    return doc;
  }

  async function poll() {
    try {
      const doc = await refresh();
      if (doc.status !== "processing") return;
    } catch (error) {
      const line = document.getElementById("video-error");
      line.textContent = `Could not refresh: ${error.message}`;
      line.hidden = false;
    }
    setTimeout(poll, vs.pollMs());
  }

  loadMedia(false).catch((error) => {
    const line = document.getElementById("player-error");
    line.textContent = `The video cannot be played: ${error.message}`;
    line.hidden = false;
  });
  poll();
  clipBy();
  loadRequests().catch((error) => { clipStatus.textContent = `Could not list clips: ${error.message}`; });
})();
