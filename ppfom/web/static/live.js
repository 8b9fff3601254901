// The live page: camera frames to the server over a WebSocket, animated frames back onto a canvas.
// Protocol: ppfom/web/live_socket.py. Counters are in #stats (data-*) and window.ppfomLive.
"use strict";

const $ = (id) => document.getElementById(id);
const SEND_FPS = 20; // frames offered per second; the server drops what it cannot animate in time
const CAPTURE_SIDE = 320; // longer side of the JPEG sent
const MAX_BUFFERED = 256 * 1024; // do not let frames pile up in the browser's socket either

const live = window.ppfomLive = {
  frames: 0, fps: 0, latencyMedian: null, latencyP95: null, dropped: 0, received: 0,
  means: [], latencies: [], errors: [], status: "", photo: false, model: null,
};
let ws = null, stream = null, timer = null, seq = 0, busy = false;
const sentAt = new Map();
const arrivals = [];
const capture = document.createElement("canvas");

function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => (typeof event.data === "string" ? onText(JSON.parse(event.data)) : onFrame(event.data));
  ws.onclose = (event) => {
    if (event.code !== 1013) showError("The connection to the server closed: reload the page to reconnect.");
    stop();
    $("start").disabled = true;
  };
}

function onText(message) {
  if (message.type === "hello") return listModels(message.models, message.model);
  if (message.type === "status") {
    live.status = message.message;
    live.photo = message.photo;
    live.model = message.model;
    $("message").textContent = message.message.charAt(0).toUpperCase() + message.message.slice(1) + ".";
    $("start").disabled = !message.photo || stream !== null;
    if (!message.photo) $("message").textContent += " Choose a photo.";
    return;
  }
  if (message.type === "stats") {
    live.dropped = message.dropped;
    live.received = message.received;
    return;
  }
  if (message.type === "error") showError(message.message);
}

function showError(text) {
  live.errors.push(text);
  $("error").textContent = text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
}

function listModels(models, chosen) {
  const select = $("model");
  select.replaceChildren(...models.map((m) => {
    const option = new Option(m.label + (m.available ? "" : " (weights missing)"), m.name, false, m.name === chosen);
    option.disabled = !m.available;
    return option;
  }));
  $("missing").textContent = models.filter((m) => !m.available).map((m) => `${m.label}: ${m.missing}.`).join(" ");
}

async function onFrame(buffer) {
  const number = new DataView(buffer).getUint32(1);
  const now = performance.now();
  if (sentAt.has(number)) {
    live.latencies.push(now - sentAt.get(number));
    if (live.latencies.length > 300) live.latencies.shift();
    for (const key of sentAt.keys()) if (key <= number) sentAt.delete(key);
  }
  arrivals.push(now);
  while (arrivals.length && arrivals[0] < now - 2000) arrivals.shift();
  const bitmap = await createImageBitmap(new Blob([buffer.slice(5)], { type: "image/jpeg" }));
  const canvas = $("output");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  live.means.push(meanOf(context.getImageData(0, 0, canvas.width, canvas.height).data));
  if (live.means.length > 300) live.means.shift();
  live.frames += 1;
  showStats();
}

function meanOf(pixels) {
  let total = 0;
  for (let i = 0; i < pixels.length; i += 16) total += pixels[i] + pixels[i + 1] + pixels[i + 2];
  return total / (3 * pixels.length / 16);
}

function percentile(values, share) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

function showStats() {
  live.fps = arrivals.length > 1 ? (arrivals.length - 1) / ((arrivals.at(-1) - arrivals[0]) / 1000) : 0;
  live.latencyMedian = percentile(live.latencies, 0.5);
  live.latencyP95 = percentile(live.latencies, 0.95);
  const stats = $("stats");
  Object.assign(stats.dataset, { frames: live.frames, fps: live.fps.toFixed(1), dropped: live.dropped,
                                 latency: live.latencyMedian === null ? "" : live.latencyMedian.toFixed(0) });
  stats.textContent = `${live.fps.toFixed(1)} frames/s, latency ${live.latencyMedian?.toFixed(0) ?? "?"} ms ` +
    `(95%: ${live.latencyP95?.toFixed(0) ?? "?"} ms), ${live.frames} frames shown, ${live.dropped} dropped by the server`;
}

async function sendPhoto(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const message = new Uint8Array(bytes.length + 1);
  message[0] = 0x50; // "P"
  message.set(bytes, 1);
  ws.send(message);
  $("message").textContent = "Sending the photo...";
}

function sendFrame() {
  const video = $("camera");
  if (busy || !video.videoWidth || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED) return;
  const scale = Math.min(1, CAPTURE_SIDE / Math.max(video.videoWidth, video.videoHeight));
  capture.width = Math.round(video.videoWidth * scale);
  capture.height = Math.round(video.videoHeight * scale);
  capture.getContext("2d").drawImage(video, 0, 0, capture.width, capture.height);
  busy = true;
  capture.toBlob(async (blob) => {
    busy = false;
    if (!blob || ws.readyState !== WebSocket.OPEN) return;
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const message = new Uint8Array(jpeg.length + 5);
    seq = (seq + 1) >>> 0;
    message[0] = 0x46; // "F"
    new DataView(message.buffer).setUint32(1, seq);
    message.set(jpeg, 5);
    sentAt.set(seq, performance.now());
    ws.send(message);
  }, "image/jpeg", 0.8);
}

async function start() {
  $("error").textContent = "";
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    stream = null;
    showError(`the camera cannot be opened (${err.name}): allow the page to use it, or plug one in`);
    return;
  }
  $("camera").srcObject = stream;
  timer = setInterval(sendFrame, 1000 / SEND_FPS);
  $("start").disabled = true;
  $("stop").disabled = $("reference").disabled = false;
}

function stop() {
  clearInterval(timer);
  timer = null;
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  $("stop").disabled = $("reference").disabled = true;
  $("start").disabled = !live.photo;
}

$("photo").addEventListener("change", () => { if ($("photo").files[0]) sendPhoto($("photo").files[0]); });
$("model").addEventListener("change", () => ws.send(JSON.stringify({ type: "model", name: $("model").value })));
$("relative").addEventListener("change", () => ws.send(JSON.stringify({ type: "relative", on: $("relative").checked })));
$("reference").addEventListener("click", () => ws.send(JSON.stringify({ type: "reference" })));
$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
connect();
