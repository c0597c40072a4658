// The library: every video with its status, stages and thumbnail; processing videos are polled;
// uploads stream the file to the API.
"use strict";

(() => {
  const list = document.getElementById("library");
  const empty = document.getElementById("library-empty");
  const errorLine = document.getElementById("library-error");
  const more = document.getElementById("library-more");
  const rows = new Map(); // video id -> {li, summary}
  const awaited = new Set(); // uploaded here, not yet known to the pipeline
  let cursor = null;

  function row(summary) {
    const facts = [];
    if (summary.duration_s !== null) facts.push(vs.time(summary.duration_s, 0));
    if (summary.width) facts.push(`${summary.width}×${summary.height}`);
    else if (summary.has_audio) facts.push("audio");
    const thumb = vs.el("img", { class: "thumb", alt: "", loading: "lazy", src: summary.thumbnail_url });
    thumb.addEventListener("error", () => thumb.classList.add("missing"));
    return vs.el(
      "li",
      { class: "video", dataset: { videoId: summary.video_id, status: summary.status } },
      vs.el("a", { href: summary.page_url, class: "thumb-link" }, thumb),
      vs.el(
        "div",
        { class: "video-info" },
        vs.el("a", { href: summary.page_url, class: "video-name" }, summary.name),
        vs.el("div", { class: "meta" }, vs.badge(summary.status), " ", facts.join(" · "), " ",
          vs.el("span", { class: "muted" }, vs.when(summary.created_at))),
        vs.stageBadges(summary.stages),
        summary.error ? vs.el("p", { class: "error" }, summary.error) : null
      )
    );
  }

  function placeholder(videoId, name) {
    return vs.el("li", { class: "video", dataset: { videoId, status: "uploaded" } },
      vs.el("span", { class: "thumb missing" }),
      vs.el("div", { class: "video-info" }, vs.el("span", { class: "video-name" }, name),
        vs.el("div", { class: "meta" }, vs.badge("uploaded", "processing"), " waiting for the pipeline")));
  }

  function put(summary, { top = false } = {}) {
    const old = rows.get(summary.video_id)?.li
      || list.querySelector(`li[data-video-id="${CSS.escape(summary.video_id)}"]`);
    const li = row(summary);
    if (old) old.replaceWith(li);
    else if (top) list.prepend(li);
    else list.append(li);
    rows.set(summary.video_id, { li, summary });
    awaited.delete(summary.video_id);
    empty.hidden = rows.size > 0;
  }

  async function loadPage() {
    const query = new URLSearchParams({ limit: "200" });
    if (cursor) query.set("cursor", cursor);
    const page = await vs.api(`/api/videos?${query}`);
    for (const summary of page.videos) put(summary);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = rows.size > 0;
  }

  async function poll() {
    try {
      const page = await vs.api("/api/videos?processing=true");
      const processing = new Set(page.videos.map((s) => s.video_id));
      for (const summary of page.videos) put(summary, { top: !rows.has(summary.video_id) });
      // Rows that were processing and are no longer: finished, read their final state.
      const done = [...rows.values()].filter(
        ({ summary }) => summary.status === "processing" && !processing.has(summary.video_id));
      for (const { summary } of done) put(await vs.api(`/api/videos/${summary.video_id}/summary`));
      for (const videoId of [...awaited]) {
        try {
          put(await vs.api(`/api/videos/${videoId}/summary`), { top: true });
        } catch (error) {
          if (error.status !== 404) throw error; // not ingested yet
        }
      }
      errorLine.hidden = true;
    } catch (error) {
      errorLine.textContent = `Could not refresh: ${error.message}`;
      errorLine.hidden = false;
    }
    setTimeout(poll, vs.pollMs());
  }

  // The file goes as the raw request body: the app streams it to the bucket part by part.
  function upload(file) {
    const status = document.getElementById("upload-status");
    const progress = document.getElementById("upload-progress");
    const button = document.getElementById("upload-button");
    const request = new XMLHttpRequest();
    request.open("POST", `/api/uploads?filename=${encodeURIComponent(file.name)}`);
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    });
    request.addEventListener("load", () => {
      progress.hidden = true;
      button.disabled = false;
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status === 201) {
        status.textContent = `Uploaded ${body.key.split("/").pop()}: analysing…`;
        status.className = "ok";
        if (!rows.has(body.video_id)) {
          awaited.add(body.video_id);
          list.prepend(placeholder(body.video_id, body.key.split("/").pop()));
          empty.hidden = true;
        }
      } else {
        status.textContent = `Upload refused: ${vs.detail(body) || request.statusText}`;
        status.className = "error";
      }
    });
    request.addEventListener("error", () => {
      progress.hidden = true;
      button.disabled = false;
      status.textContent = "Upload failed: the connection was lost";
      status.className = "error";
    });
    progress.value = 0;
    progress.hidden = false;
    button.disabled = true;
    status.textContent = `Uploading ${file.name}…`;
    status.className = "";
    request.send(file);
  }

  document.getElementById("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    if (file) upload(file);
  });
  more.addEventListener("click", () => loadPage().catch((e) => { errorLine.textContent = e.message; errorLine.hidden = false; }));

  loadPage()
    .catch((error) => {
      errorLine.textContent = `Could not load the library: ${error.message}`;
      errorLine.hidden = false;
    })
    .finally(() => setTimeout(poll, vs.pollMs()));
})();
