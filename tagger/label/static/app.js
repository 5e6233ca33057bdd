// The labeling page: listen, choose a role per instrument, submit or skip. Keyboard first.
// Everything from the server is inserted with textContent (file names are not trusted HTML).
"use strict";

const ROLES = ["foreground", "background", "none"];
const ROLE_TEXT = { foreground: "Foreground", background: "Background", none: "None" };
const ROLE_KEYS = { foreground: "1", background: "2", none: "3" };
const KEY_ROLE = { "1": "foreground", f: "foreground", "2": "background", b: "background",
                   "3": "none", n: "none" };

const $ = (id) => document.getElementById(id);
const token = document.querySelector('meta[name="csrf-token"]').content;
const state = { clip: null, instruments: [], active: 0, busy: false };

function fmtTime(s) {
  const m = Math.floor(s / 60);
  const sec = s - m * 60;
  return `${m}:${sec.toFixed(sec % 1 ? 1 : 0).padStart(sec % 1 ? 4 : 2, "0")}`;
}

function fmtPosition(s) {  // always tenths, so the readout does not jitter while playing
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function setStatus(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
  el.setAttribute("role", isError ? "alert" : "status");
}

async function api(method, url, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = token;
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
  return data;
}

function rows() { return Array.from(document.querySelectorAll("#rows .row")); }

function choiceOf(row) {
  const checked = row.querySelector("input:checked");
  return checked ? checked.value : null;
}

function allChosen() { return rows().length > 0 && rows().every((row) => choiceOf(row) !== null); }

function refresh() {
  rows().forEach((row, i) => {
    row.setAttribute("aria-current", i === state.active ? "true" : "false");
    row.classList.toggle("answered", choiceOf(row) !== null);
  });
  $("submit").disabled = state.busy || !state.clip || !allChosen();
  $("skip").disabled = state.busy || !state.clip;
}

function percent(x) { return `${Math.round(x * 100)}%`; }

// Two labelled numbers (the column heads say "model: playing" and "model: lead").
function guessCells(name, g) {
  const guess = document.createElement("div");
  guess.className = "guess";
  const lead = document.createElement("span");
  lead.className = "lead";
  if (!g) {
    guess.textContent = "no guess";
    lead.textContent = "–";
    return [guess, lead];
  }
  guess.title = `The model is ${percent(g.presence)} sure that the ${name} plays in this clip`;
  const meter = document.createElement("meter");
  meter.min = 0; meter.max = 1; meter.value = g.presence;
  meter.setAttribute("aria-label", `model: ${name} playing`);
  const gt = document.createElement("span");
  gt.textContent = percent(g.presence);
  guess.append(meter, gt);
  const known = g.foreground !== null && g.foreground !== undefined;
  lead.textContent = known ? percent(g.foreground) : "–";
  lead.title = known ? `The model is ${percent(g.foreground)} sure that the ${name} leads`
                     : "This model does not guess who leads";
  lead.setAttribute("aria-label", `model: ${name} lead ${lead.textContent}`);
  return [guess, lead];
}

function buildRows(clip) {
  const container = $("rows");
  container.replaceChildren();
  state.instruments.forEach((name, i) => {
    const row = document.createElement("fieldset");
    row.className = "row";
    row.dataset.instrument = name;
    const legend = document.createElement("legend");
    legend.textContent = name.replace(/_/g, " ");
    const [guess, lead] = guessCells(name.replace(/_/g, " "), clip.guess[name]);
    const choices = document.createElement("div");
    choices.className = "choices";
    for (const role of ROLES) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = `role-${name}`;
      input.value = role;
      input.addEventListener("change", () => { state.active = i; refresh(); });
      const span = document.createElement("span");
      span.textContent = `${ROLE_TEXT[role]} `;
      const kbd = document.createElement("kbd");
      kbd.textContent = ROLE_KEYS[role];
      span.append(kbd);
      label.append(input, span);
      choices.append(label);
    }
    row.append(legend, guess, lead, choices);
    row.addEventListener("click", () => { state.active = i; refresh(); });
    container.append(row);
  });
}

// Tick marks under the spectrogram: whole seconds of the track, the clip's ends labelled.
function drawTimeAxis(start, end) {
  const axis = $("time-axis");
  axis.replaceChildren();
  const span = end - start;
  if (!(span > 0)) return;
  const times = [start];
  for (let t = Math.floor(start) + 1; t < end - 0.3; t++) if (t - start >= 0.3) times.push(t);
  times.push(end);
  times.forEach((t, i) => {
    const tick = document.createElement("span");
    tick.textContent = fmtTime(Math.round(t * 10) / 10);
    tick.style.left = `${((t - start) / span * 100).toFixed(2)}%`;
    if (i === 0) tick.className = "first";
    else if (i === times.length - 1) tick.className = "last";
    axis.append(tick);
  });
}

function drawFrequencyAxis(ticks) {
  const axis = $("freq-axis");
  axis.replaceChildren();
  for (const tick of ticks || []) {
    const label = document.createElement("span");
    label.textContent = tick.label;
    label.style.bottom = `${(tick.at * 100).toFixed(2)}%`;
    axis.append(label);
  }
}

function showPosition() {
  const audio = $("audio");
  const length = state.clip ? state.clip.end - state.clip.start : 0;
  const total = audio.duration && isFinite(audio.duration) ? audio.duration : length;
  const frac = total ? Math.min(audio.currentTime / total, 1) : 0;
  $("playhead").style.left = `${(frac * 100).toFixed(2)}%`;
  $("position").textContent = `${fmtPosition(audio.currentTime)} / ${fmtPosition(total)}`;
}

function show(payload) {
  state.instruments = payload.instruments;
  $("count-labeled").textContent = payload.counts.labeled;
  $("count-skipped").textContent = payload.counts.skipped;
  $("count-remaining").textContent = payload.remaining;
  if (payload.skip_advice) $("skip-advice").textContent = payload.skip_advice;
  $("loading").hidden = true;
  const clip = payload.clip;
  state.clip = clip;
  state.active = 0;
  if (!clip) {
    $("clip").hidden = true;
    $("done").hidden = false;
    $("audio").removeAttribute("src");
    refresh();
    return;
  }
  $("done").hidden = true;
  $("clip").hidden = false;
  $("track").textContent = clip.track;
  $("path").textContent = clip.path;
  $("time").textContent = `${fmtTime(clip.start)} – ${fmtTime(clip.end)}`;
  $("spectrogram").src = clip.spectrogram;
  drawTimeAxis(clip.start, clip.end);
  drawFrequencyAxis(payload.frequency_ticks);
  const audio = $("audio");
  audio.src = clip.audio;
  audio.load();
  buildRows(clip);
  refresh();
  showPosition();
  audio.play().catch(() => {}); // autoplay may be refused before the first key press
}

function choose(role, rowIndex = state.active) {
  const row = rows()[rowIndex];
  if (!row) return;
  row.querySelector(`input[value="${role}"]`).checked = true;
  const all = rows();
  // Move on to the next row without a choice (wrapping), or stay if every row is answered.
  for (let step = 1; step <= all.length; step++) {
    const next = (rowIndex + step) % all.length;
    if (choiceOf(all[next]) === null) { state.active = next; break; }
  }
  refresh();
}

function noneForRest() {
  rows().forEach((row) => { if (choiceOf(row) === null) row.querySelector('input[value="none"]').checked = true; });
  refresh();
}

function move(delta) {
  const n = rows().length;
  if (!n) return;
  state.active = (state.active + delta + n) % n;
  refresh();
  rows()[state.active].scrollIntoView({ block: "nearest" });
}

async function send(kind) {
  if (state.busy || !state.clip) return;
  if (kind === "labels" && !allChosen()) {
    setStatus("Choose Foreground, Background or None for every instrument (or skip).", true);
    return;
  }
  const body = { clip: state.clip.id };
  if (kind === "labels") {
    body.labels = {};
    rows().forEach((row) => { body.labels[row.dataset.instrument] = choiceOf(row); });
  }
  state.busy = true;
  refresh();
  $("audio").pause();
  try {
    const payload = await api("POST", `/api/${kind}`, body);
    setStatus(kind === "labels" ? "Saved." : "Skipped.");
    state.busy = false;
    show(payload);
  } catch (err) {
    state.busy = false;
    setStatus(`Could not save: ${err.message}`, true);
    refresh();
  }
}

function togglePlay() {
  const audio = $("audio");
  if (audio.paused) audio.play().catch((e) => setStatus(`Cannot play: ${e.message}`, true));
  else audio.pause();
}

function fromStart() {
  const audio = $("audio");
  audio.currentTime = 0;
  audio.play().catch(() => {});
}

// A click on the spectrogram moves the playhead there (playing or not).
function seekTo(event) {
  const audio = $("audio");
  const box = $("figure").getBoundingClientRect();
  const total = audio.duration && isFinite(audio.duration) ? audio.duration : 0;
  if (!total || box.width <= 0) return;
  audio.currentTime = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * total;
  showPosition();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!state.clip) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  let handled = true;
  if (key === " ") togglePlay();
  else if (key === "Enter") send("labels");
  else if (key === "s") send("skip");
  else if (key === "r") fromStart();
  else if (key === "ArrowDown" || key === "j") move(1);
  else if (key === "ArrowUp" || key === "k") move(-1);
  else if (key === "0") noneForRest();
  else if (key in KEY_ROLE) choose(KEY_ROLE[key]);
  else handled = false;
  if (handled) event.preventDefault();
}

function wireAudio() {
  const audio = $("audio");
  const label = $("play-label");
  audio.addEventListener("play", () => { label.textContent = "Pause"; });
  audio.addEventListener("pause", () => { label.textContent = "Play"; });
  audio.addEventListener("ended", () => { label.textContent = "Play"; });
  let frame = 0;
  const follow = () => { showPosition(); frame = audio.paused ? 0 : requestAnimationFrame(follow); };
  audio.addEventListener("playing", () => { if (!frame) frame = requestAnimationFrame(follow); });
  for (const name of ["timeupdate", "seeked", "loadedmetadata"]) audio.addEventListener(name, showPosition);
  audio.addEventListener("error", async () => {
    if (!state.clip || !audio.getAttribute("src")) return;
    let reason = "the audio could not be loaded";
    try { await api("GET", state.clip.audio); } catch (err) { reason = err.message; }
    setStatus(`${reason}. Skip this clip (S).`, true);
  });
}

function init() {
  wireAudio();
  $("play").addEventListener("click", togglePlay);
  $("figure").addEventListener("click", seekTo);
  $("skip").addEventListener("click", () => send("skip"));
  $("labels").addEventListener("submit", (event) => { event.preventDefault(); send("labels"); });
  document.addEventListener("keydown", onKey);
  api("GET", "/api/next").then(show).catch((err) => {
    $("loading").textContent = `Could not load: ${err.message}`;
  });
}

init();
