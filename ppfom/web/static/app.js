// The page's logic: upload with progress, poll the job, show the result or the one-line error.
"use strict";

const $ = (id) => document.getElementById(id);
const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
let maxUploadMb = 200;

fetch("/api/config").then((r) => r.json()).then((config) => {
  maxUploadMb = config.max_upload_mb;
  $("limit").textContent = Math.round(maxUploadMb * 10) / 10;
});

function show(state, percent, message) {
  $("status").hidden = false;
  $("status").dataset.state = state;
  if (percent === null || percent === undefined) $("bar").removeAttribute("value");
  else $("bar").value = percent;
  $("message").textContent = message;
}

function fail(message) {
  show("error", 0, "");
  $("error").textContent = sentence(message || "Something went wrong");
  $("start").disabled = false;
}

function finish(job) {
  show("done", 100, ["Done.", ...job.notes.map(sentence)].join(" "));
  $("download").href = job.download;
  $("preview").src = job.download;
  $("result").hidden = false;
  $("start").disabled = false;
}

function progressText(job) {
  if (job.state === "queued") return "Waiting for the jobs before this one…";
  if (job.done === 0) return "Loading the model and reading the inputs…";
  return `Animating: frame ${job.done}` + (job.total ? ` of about ${job.total}` : "");
}

function poll(id) {
  fetch(`/api/jobs/${encodeURIComponent(id)}`)
    .then((r) => r.json().then((body) => [r.ok, body]))
    .then(([ok, job]) => {
      if (!ok) return fail(job.error);
      if (job.state === "done") return finish(job);
      if (job.state === "error") return fail(job.message);
      show(job.state, job.percent, progressText(job));
      setTimeout(() => poll(id), 500);
    })
    .catch(() => fail("Lost contact with the server: is it still running?"));
}

function upload(form) {
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/jobs");
  xhr.setRequestHeader("X-Requested-With", "ppfom");
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) show("uploading", Math.floor((100 * e.loaded) / e.total), "Uploading…");
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: use the status below */ }
    if (xhr.status === 202) poll(body.id);
    else fail(body.error || `The server refused the upload (HTTP ${xhr.status}).`);
  };
  xhr.onerror = () => fail("The upload failed: is the server running, and are the files under the limit?");
  xhr.send(form);
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const source = $("source").files[0];
  const driving = $("driving").files[0];
  if (!source || !driving) return fail("Choose a photo and a driving video.");
  const mb = (source.size + driving.size) / 1048576;
  if (mb > maxUploadMb) {
    return fail(`The two files are ${mb.toFixed(1)} MB together: the limit is ${maxUploadMb} MB.`);
  }
  $("error").textContent = "";
  $("result").hidden = true;
  $("start").disabled = true;
  show("uploading", 0, "Uploading…");
  upload(new FormData($("form")));
});
