// fakelens web page: upload one file to /v1/scan, poll video jobs, draw faces and evidence.
// Plain DOM, no framework or CDN; server text is always set with textContent, never as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
let previewUrl = null;

async function loadModel() {
  try {
    const r = await fetch("/v1/models");
    const j = await r.json();
    $("model").textContent = j.loaded;
    $("threshold").textContent = j.threshold.toFixed(3);
  } catch (e) { $("model").textContent = "unavailable"; }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "";
  $("progress").hidden = true;
}

async function errorText(resp) {
  try {
    const j = await resp.json();
    if (j.error) return `${j.error.message} (${resp.status} ${j.error.code})`;
  } catch (e) { /* not JSON */ }
  return `the server answered ${resp.status}`;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function pollJob(url) {
  for (;;) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(await errorText(r));
    const job = await r.json();
    $("progress").value = job.progress;
    $("status").textContent = `video job ${job.status}: ${Math.round(job.progress * 100)} %`;
    if (job.status === "done") return job.result;
    if (job.status === "failed") throw new Error(`${job.error.message} (${job.error.code})`);
    await sleep(500);
  }
}

async function scan(file) {
  $("error").hidden = true;
  $("result").hidden = true;
  $("status").textContent = `uploading ${file.name} …`;
  $("progress").hidden = false;
  $("progress").removeAttribute("value");
  const body = new FormData();
  body.append("file", file, file.name);
  try {
    const r = await fetch("/v1/scan?evidence=true", { method: "POST", body });
    let result;
    if (r.status === 200) result = await r.json();
    else if (r.status === 202) result = await pollJob(r.headers.get("Location") || `/v1/jobs/${(await r.json()).id}`);
    else throw new Error(await errorText(r));
    render(file, result);
  } catch (e) {
    showError(e.message || String(e));
  }
}

function img(b64, width, alt) {
  const el = document.createElement("img");
  el.src = `data:image/jpeg;base64,${b64}`;
  el.width = width;
  el.alt = alt;
  return el;
}

function figure(child, caption) {
  const f = document.createElement("figure");
  const c = document.createElement("figcaption");
  c.textContent = caption;
  f.append(child, c);
  return f;
}

function render(file, res) {
  const rec = res.file;
  $("status").textContent = "";
  $("progress").hidden = true;
  $("verdict").textContent = rec.verdict.replace("_", " ");
  $("verdict").className = `badge ${rec.verdict}`;
  $("filename").textContent = rec.file;
  $("score").textContent = rec.score === null ? "" : `score ${rec.score.toFixed(3)}`;
  $("details").textContent = `${rec.kind} · ${rec.faces} face(s) in ${rec.frames} frame(s), ` +
    `${rec.faceless_frames} without a face · rule: ${rec.rule || "-"} · ${rec.seconds.toFixed(2)} s` +
    (rec.error ? ` · ${rec.error}` : "");
  const stage = $("stage");
  stage.querySelectorAll(".box").forEach((b) => b.remove());
  const preview = $("preview");
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  if (rec.kind === "image") {
    previewUrl = URL.createObjectURL(file);
    preview.onload = () => drawBoxes(preview, res.faces);
    preview.src = previewUrl;
    stage.hidden = false;
  } else {
    stage.hidden = true;
  }
  const ev = $("evidence");
  ev.replaceChildren();
  for (const e of res.evidence || []) {
    const card = document.createElement("div");
    card.className = "ev";
    const where = rec.kind === "video" ? `frame ${e.face.frame} (${e.face.time_s.toFixed(2)} s)` : "image";
    card.append(figure(img(e.frame_jpeg, 240, "frame"), `${where}, face ${e.face.face}`));
    card.append(figure(img(e.crop_jpeg, 160, "face crop"), `score ${e.face.score.toFixed(3)}`));
    if (e.heatmap_jpeg) card.append(figure(img(e.heatmap_jpeg, 160, "heat map"), "where the evidence is"));
    ev.append(card);
  }
  const any = (res.evidence || []).length > 0;
  $("evidence-title").hidden = !any;
  $("evidence-note").hidden = !any;
  $("result").hidden = false;
}

function drawBoxes(preview, faces) {
  const sx = 100 / preview.naturalWidth, sy = 100 / preview.naturalHeight;
  for (const f of faces) {
    const [x0, y0, x1, y1] = f.box;
    const b = document.createElement("div");
    b.className = "box";
    Object.assign(b.style, {
      left: `${x0 * sx}%`, top: `${y0 * sy}%`, width: `${(x1 - x0) * sx}%`, height: `${(y1 - y0) * sy}%`,
    });
    const label = document.createElement("span");
    label.className = "face-score";
    label.textContent = `face ${f.face}: ${f.score.toFixed(3)}`;
    b.append(label);
    $("stage").append(b);
  }
}

const drop = $("drop");
$("file").addEventListener("change", (e) => { if (e.target.files.length) scan(e.target.files[0]); });
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault();
  drop.classList.add("over");
}));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files.length) scan(e.dataTransfer.files[0]);
});
loadModel();
