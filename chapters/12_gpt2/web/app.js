// gpt2 serve's page: plain JavaScript, no libraries. Every view is a client of the server's JSON
// endpoints (chapter 12's README lists them): /api/tokenize, /api/merges, /v1/completions,
// /api/attention, /api/logit_lens and /v1/chat/completions.
"use strict";

const $ = (id) => document.getElementById(id);

// ----- talking to the server -----------------------------------------------------------------

// POSTs JSON and returns the parsed answer; an error answer throws with the server's message.
async function api(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok || data.error) throw new Error(data.error ? data.error.message : res.statusText);
  return data;
}

// Reads a server-sent event stream (`data: {...}` lines, `data: [DONE]` at the end), calling
// onData with each parsed chunk.
async function readEvents(res, onData) {
  if (!res.ok) {
    const data = await res.json();
    throw new Error(data.error ? data.error.message : res.statusText);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const payload = line.slice(6);
        if (payload === "[DONE]") return;
        const data = JSON.parse(payload);
        if (data.error) throw new Error(data.error.message);
        onData(data);
      }
    }
  }
}

function showError(err) {
  const box = $("error");
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

// ----- showing tokens ------------------------------------------------------------------------

// A token as the server writes it: its text, or "bytes:\xNN..." when its bytes are not valid
// UTF-8 on their own (part of a character). Line breaks and tabs are drawn visibly, and spaces too
// when `spaces` (in tables, where a token " the" must not look like "the").
function tokenNode(display, spaces = false) {
  const frag = document.createDocumentFragment();
  if (display.startsWith("bytes:")) {
    const s = document.createElement("span");
    s.className = "bytes";
    s.textContent = display.slice(6);
    frag.appendChild(s);
    return frag;
  }
  const parts = display.split(spaces ? /(\n|\t| )/ : /(\n|\t)/);
  const shown = { "\n": spaces ? "\u21b5" : "\u21b5\n", "\t": "\u2192\t", " ": "\u2423" };
  for (const p of parts) {
    if (p in shown) {
      const s = document.createElement("span");
      s.className = "ws";
      s.textContent = shown[p];
      frag.appendChild(s);
    } else if (p) {
      frag.appendChild(document.createTextNode(p));
    }
  }
  return frag;
}

// A token as plain text for labels: bytes as \xNN, spaces as a visible mark.
function plainToken(display) {
  return display.startsWith("bytes:") ? display.slice(6) : JSON.stringify(display).slice(1, -1).replace(/ /g, "\u2423");
}

// Distinct pale colours for neighbouring tokens (hues a golden angle apart).
function tokenColour(i) {
  return `hsl(${(i * 137.5) % 360}, 70%, 85%)`;
}

// Probability p in [0, 1] from red (unlikely) to green (likely); the square root spreads the
// small probabilities that most tokens get.
function probColour(p) {
  return `hsla(${Math.round(120 * Math.sqrt(p))}, 75%, 70%, 0.75)`;
}

const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
const percent = (p) => (100 * p).toFixed(p < 0.01 ? 2 : 1) + "%";

// ----- the tooltip ---------------------------------------------------------------------------

const tips = new WeakMap(); // element -> function returning the tooltip's HTML
function setTip(el, html) {
  tips.set(el, html);
}
document.addEventListener("mouseover", (e) => {
  let el = e.target;
  while (el && el !== document.body && !tips.has(el)) el = el.parentElement;
  const tip = $("tip");
  if (!el || !tips.has(el)) {
    tip.hidden = true;
    return;
  }
  tip.innerHTML = tips.get(el)();
  tip.hidden = false;
});
document.addEventListener("mousemove", (e) => {
  const tip = $("tip");
  if (tip.hidden) return;
  const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = e.clientY + 18 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 10 : e.clientY + 18;
  tip.style.left = x + "px";
  tip.style.top = y + "px";
});

const escapeHtml = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// Rows "token  ▇▇▇ 12.3%" for a list of [display, probability], the chosen one highlighted.
function alternativesHtml(alts, chosen) {
  const max = Math.max(...alts.map((a) => a[1]), 1e-9);
  return alts
    .map(([tok, p]) => {
      const cls = tok === chosen ? ' class="chosen"' : "";
      const w = Math.round((60 * p) / max);
      return `<div${cls}><span class="bar" style="width:${w}px"></span>${escapeHtml(plainToken(tok))} ${percent(p)}</div>`;
    })
    .join("");
}

// ----- tabs ----------------------------------------------------------------------------------

const opened = new Set();
function openView(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === "view-" + name);
  showError(null);
  if (!opened.has(name)) {
    opened.add(name);
    if (name === "attention") runAttention();
    if (name === "lens") runLens();
  }
}
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => openView(b.dataset.view));

// ----- the model's description ---------------------------------------------------------------

let info = null;
async function loadInfo() {
  const res = await fetch("/api/info");
  info = await res.json();
  $("model-info").textContent =
    `${info.model}: ${info.n_layer} layers, ${info.n_head} heads, ${info.n_embd} channels, ` +
    `context ${info.context_length}, vocabulary ${info.vocab_size}, ` +
    `${(info.parameters / 1e6).toFixed(2)} M parameters, on ${info.backend}`;
  $("chat-template").textContent = info.chat_template;
  const o = location.origin;
  $("api-examples").textContent = [
    `# the model`,
    `curl ${o}/v1/models`,
    ``,
    `# a completion (greedy: temperature 0)`,
    `curl ${o}/v1/completions -H 'Content-Type: application/json' \\`,
    `  -d '{"prompt": "ROMEO:", "max_tokens": 40, "temperature": 0}'`,
    ``,
    `# streamed as server-sent events, with each token's top 3 alternatives`,
    `curl -N ${o}/v1/completions -H 'Content-Type: application/json' \\`,
    `  -d '{"prompt": "ROMEO:", "max_tokens": 40, "stream": true, "logprobs": 3, "seed": 1}'`,
    ``,
    `# a chat (the template: ${info.chat_template})`,
    `curl ${o}/v1/chat/completions -H 'Content-Type: application/json' \\`,
    `  -d '{"messages": [{"role": "user", "content": "Who are you?"}], "max_tokens": 60}'`,
    ``,
    `# Python, with the openai package:`,
    `#   from openai import OpenAI`,
    `#   client = OpenAI(base_url="${o}/v1", api_key="none")`,
    `#   client.completions.create(model="${info.model}", prompt="ROMEO:", max_tokens=40)`,
    ``,
    `# limits: ${JSON.stringify(info.limits)}`,
  ].join("\n");
}

// ----- tokenizer view ------------------------------------------------------------------------

let tokTimer = null;
async function runTokenize() {
  const text = $("tok-text").value;
  try {
    const r = await api("/api/tokenize", { text });
    const out = $("tok-out");
    out.textContent = "";
    r.tokens.forEach((t, i) => {
      const s = document.createElement("span");
      s.className = "tok";
      s.style.background = tokenColour(i);
      s.appendChild(tokenNode(t.text));
      setTip(s, () => `id ${t.id}<br>bytes ${hex(t.bytes)}${t.rank === null ? "" : `<br>merge rank ${t.rank}`}`);
      s.addEventListener("click", () => {
        for (const x of out.querySelectorAll(".selected")) x.classList.remove("selected");
        s.classList.add("selected");
        showMerges(t.id);
      });
      out.appendChild(s);
    });
    const perToken = r.count ? (r.bytes / r.count).toFixed(2) : "0";
    $("tok-stats").textContent = `${r.count} tokens, ${r.bytes} bytes: ${perToken} bytes per token`;
    out.dataset.count = r.count;
    showError(null);
  } catch (e) {
    showError(e);
  }
}
$("tok-text").addEventListener("input", () => {
  clearTimeout(tokTimer);
  tokTimer = setTimeout(runTokenize, 150);
});

// The tree of merges that built a token, from the byte tokens up.
function mergeTree(node) {
  const li = document.createElement("li");
  const code = document.createElement("code");
  code.appendChild(tokenNode(node.text, true));
  li.appendChild(code);
  li.appendChild(
    document.createTextNode(node.rank === null ? `  id ${node.id}, byte ${hex(node.bytes)}` : `  id ${node.id}, merge rank ${node.rank}`),
  );
  if (node.left) {
    const ul = document.createElement("ul");
    ul.className = "tree";
    ul.appendChild(mergeTree(node.left));
    ul.appendChild(mergeTree(node.right));
    li.appendChild(ul);
  }
  return li;
}

async function showMerges(id) {
  try {
    const tree = await api("/api/merges", { id });
    const d = $("tok-detail");
    d.textContent = "";
    const p = document.createElement("p");
    p.textContent =
      tree.rank === null
        ? `Token ${id} is a single byte (or a special token): no merge made it.`
        : `Token ${id} is merge number ${tree.rank}: BPE joined its two parts, each made the same way, down to single bytes.`;
    d.appendChild(p);
    const ul = document.createElement("ul");
    ul.className = "tree";
    ul.appendChild(mergeTree(tree));
    d.appendChild(ul);
  } catch (e) {
    showError(e);
  }
}

// ----- generation view -----------------------------------------------------------------------

let genAbort = null;
async function runGenerate() {
  const out = $("gen-out");
  out.textContent = "";
  out.dataset.state = "running";
  out.dataset.count = 0;
  const prompt = $("gen-prompt").value;
  const p = document.createElement("span");
  p.className = "prompt-text";
  p.textContent = prompt;
  out.appendChild(p);
  const body = {
    prompt,
    max_tokens: Number($("gen-max").value),
    temperature: Number($("gen-temp").value),
    top_k: Number($("gen-topk").value),
    top_p: Number($("gen-topp").value),
    seed: Number($("gen-seed").value),
    stream: true,
    logprobs: 5,
  };
  genAbort = new AbortController();
  $("gen-run").disabled = true;
  $("gen-stop").disabled = false;
  const t0 = performance.now();
  let first = 0,
    n = 0,
    finish = "";
  try {
    const res = await fetch("/v1/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: genAbort.signal,
    });
    await readEvents(res, (chunk) => {
      const c = chunk.choices[0];
      if (c.finish_reason) finish = c.finish_reason;
      const lp = c.logprobs;
      if (!lp || !lp.tokens.length) return;
      if (!first) first = performance.now();
      n += 1;
      const display = lp.tokens[0];
      const prob = Math.exp(lp.token_logprobs[0]);
      const alts = Object.entries(lp.top_logprobs[0])
        .map(([t, l]) => [t, Math.exp(l)])
        .sort((a, b) => b[1] - a[1]);
      const s = document.createElement("span");
      s.className = "gen-tok";
      s.style.background = probColour(prob);
      s.appendChild(tokenNode(display));
      setTip(s, () => `<div>id ${lp.token_ids[0]}: p = ${percent(prob)}</div><div>the model's top ${alts.length}:</div>` + alternativesHtml(alts, display));
      out.appendChild(s);
      out.dataset.count = n;
    });
    out.dataset.state = "done";
  } catch (e) {
    out.dataset.state = e.name === "AbortError" ? "stopped" : "error";
    if (e.name !== "AbortError") showError(e);
    if (e.name === "AbortError") finish = "stopped";
  }
  const seconds = (performance.now() - t0) / 1000;
  const decode = first ? (performance.now() - first) / 1000 : 0;
  $("gen-stats").textContent =
    `${n} tokens in ${seconds.toFixed(2)} s` +
    (first ? `: first token after ${Math.round(first - t0)} ms, then ${(n > 1 && decode > 0 ? (n - 1) / decode : 0).toFixed(1)} tokens/s` : "") +
    (finish ? `; finish_reason: ${finish}` : "");
  $("gen-run").disabled = false;
  $("gen-stop").disabled = true;
}
$("gen-run").addEventListener("click", runGenerate);
$("gen-stop").addEventListener("click", () => genAbort && genAbort.abort());

// ----- attention view ------------------------------------------------------------------------

let att = null;
let attSel = { layer: 0, head: 0, query: -1 };

// Weight w in [0, 1] as a colour from white to dark blue; sqrt makes small weights visible.
function heat(w) {
  const v = Math.sqrt(Math.max(0, Math.min(1, w)));
  return [Math.round(255 - 225 * v), Math.round(255 - 180 * v), Math.round(255 - 90 * v)];
}

function drawSmall(canvas, rows) {
  const T = rows.length;
  canvas.width = T;
  canvas.height = T;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(T, T);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const [r, g, b] = j <= i ? heat(rows[i][j]) : [245, 245, 245];
      const k = 4 * (i * T + j);
      img.data[k] = r;
      img.data[k + 1] = g;
      img.data[k + 2] = b;
      img.data[k + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawBig() {
  const canvas = $("att-map");
  const ctx = canvas.getContext("2d");
  const rows = att.attention[attSel.layer][attSel.head];
  const T = rows.length;
  const margin = 110;
  const cell = Math.max(4, Math.floor((Math.min(canvas.width, canvas.height) - margin) / T));
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j <= i; j++) {
      const [r, g, b] = heat(rows[i][j]);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(margin + j * cell, margin + i * cell, cell, cell);
    }
  }
  ctx.fillStyle = "#1d2330";
  ctx.font = `${Math.min(12, cell)}px monospace`;
  ctx.textBaseline = "middle";
  const label = (t) => {
    const s = plainToken(t);
    return s.length > 12 ? s.slice(0, 11) + "\u2026" : s;
  };
  for (let i = 0; i < T; i++) {
    ctx.textAlign = "right";
    ctx.fillText(label(att.tokens[i]), margin - 4, margin + (i + 0.5) * cell);
    ctx.save();
    ctx.translate(margin + (i + 0.5) * cell, margin - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    ctx.fillText(label(att.tokens[i]), 0, 0);
    ctx.restore();
  }
  $("att-title").textContent =
    `layer ${attSel.layer}, head ${attSel.head}: row i is how position i spreads its attention over positions 0..i (darker: more)`;
  canvas.dataset.drawn = "1";
  canvas.onmousemove = (e) => {
    const rect = canvas.getBoundingClientRect();
    const j = Math.floor((e.clientX - rect.left - margin) / cell);
    const i = Math.floor((e.clientY - rect.top - margin) / cell);
    canvas.title = i >= 0 && i < T && j >= 0 && j <= i ? `${plainToken(att.tokens[i])} -> ${plainToken(att.tokens[j])}: ${rows[i][j].toFixed(4)}` : "";
  };
}

// Two columns of the prompt's tokens; lines from the chosen token (left) to each token it
// attends to (right), as thick and as dark as the weight.
function drawLines() {
  const svg = $("att-lines");
  const rows = att.attention[attSel.layer][attSel.head];
  const T = rows.length;
  const q = attSel.query >= 0 && attSel.query < T ? attSel.query : T - 1;
  const step = Math.min(22, (Number(svg.getAttribute("height")) - 20) / T);
  const NS = "http://www.w3.org/2000/svg";
  svg.textContent = "";
  const leftX = 150,
    rightX = 270;
  for (let j = 0; j <= q; j++) {
    const line = document.createElementNS(NS, "line");
    line.setAttribute("x1", leftX + 6);
    line.setAttribute("y1", 14 + q * step);
    line.setAttribute("x2", rightX - 6);
    line.setAttribute("y2", 14 + j * step);
    line.setAttribute("stroke", "#2f5fd0");
    line.setAttribute("stroke-opacity", Math.max(0.04, rows[q][j]));
    line.setAttribute("stroke-width", 1 + 7 * rows[q][j]);
    svg.appendChild(line);
  }
  for (let i = 0; i < T; i++) {
    for (const side of ["left", "right"]) {
      const t = document.createElementNS(NS, "text");
      t.setAttribute("x", side === "left" ? leftX : rightX);
      t.setAttribute("y", 18 + i * step);
      t.setAttribute("text-anchor", side === "left" ? "end" : "start");
      t.textContent = plainToken(att.tokens[i]);
      if (side === "left") {
        if (i === q) t.classList.add("selected");
        t.addEventListener("click", () => {
          attSel.query = i;
          drawLines();
        });
      } else if (i <= q) {
        t.setAttribute("fill-opacity", 0.35 + 0.65 * Math.sqrt(rows[q][i]));
      }
      svg.appendChild(t);
    }
  }
}

function selectHead(layer, head) {
  attSel.layer = layer;
  attSel.head = head;
  for (const c of document.querySelectorAll("#att-grid .cell")) {
    c.classList.toggle("selected", Number(c.dataset.layer) === layer && Number(c.dataset.head) === head);
  }
  drawBig();
  drawLines();
}

async function runAttention() {
  try {
    att = await api("/api/attention", { text: $("att-text").value });
    const grid = $("att-grid");
    grid.textContent = "";
    grid.style.gridTemplateColumns = `4em repeat(${att.n_head}, 76px)`;
    grid.appendChild(document.createElement("div"));
    for (let h = 0; h < att.n_head; h++) {
      const d = document.createElement("div");
      d.className = "cell";
      d.textContent = `head ${h}`;
      grid.appendChild(d);
    }
    for (let l = 0; l < att.n_layer; l++) {
      const name = document.createElement("div");
      name.className = "cell";
      name.textContent = `layer ${l}`;
      grid.appendChild(name);
      for (let h = 0; h < att.n_head; h++) {
        const cell = document.createElement("div");
        cell.className = "cell";
        cell.dataset.layer = l;
        cell.dataset.head = h;
        const c = document.createElement("canvas");
        c.style.width = "72px";
        c.style.height = "72px";
        drawSmall(c, att.attention[l][h]);
        cell.appendChild(c);
        cell.addEventListener("click", () => selectHead(l, h));
        grid.appendChild(cell);
      }
    }
    attSel.query = -1;
    selectHead(Math.min(attSel.layer, att.n_layer - 1), Math.min(attSel.head, att.n_head - 1));
    showError(null);
  } catch (e) {
    showError(e);
  }
}
$("att-run").addEventListener("click", runAttention);
$("att-text").addEventListener("keydown", (e) => e.key === "Enter" && runAttention());

// ----- logit-lens view -----------------------------------------------------------------------

async function runLens() {
  const out = $("lens-out");
  try {
    const d = await api("/api/logit_lens", { text: $("lens-text").value, top: 5 });
    const T = d.tokens.length;
    const table = document.createElement("table");
    const head = document.createElement("tr");
    const corner = document.createElement("th");
    corner.className = "row";
    corner.textContent = "input";
    head.appendChild(corner);
    for (const t of d.tokens) {
      const th = document.createElement("th");
      th.appendChild(tokenNode(t, true));
      head.appendChild(th);
    }
    // The deepest row at the top, the embedding at the bottom: the stream flows upwards.
    for (let row = d.rows.length - 1; row >= 0; row--) {
      const tr = document.createElement("tr");
      const name = document.createElement("th");
      name.className = "row";
      name.textContent = row === d.rows.length - 1 ? `${d.rows[row]} (output)` : d.rows[row];
      tr.appendChild(name);
      for (let t = 0; t < T; t++) {
        const top = d.top[row][t];
        const td = document.createElement("td");
        td.appendChild(tokenNode(top[0].text, true));
        td.style.background = `rgba(47, 95, 208, ${0.08 + 0.8 * top[0].prob})`;
        if (top[0].prob > 0.5) td.style.color = "#fff";
        const next = t + 1 < T ? d.token_ids[t + 1] : -1;
        if (top[0].id === next) td.classList.add("hit");
        setTip(td, () => {
          const alts = top.map((a) => [a.text, a.prob]);
          const real = t + 1 < T ? `<div>p(next is ${escapeHtml(plainToken(d.tokens[t + 1]))}) = ${percent(d.next_prob[row][t])}</div>` : "";
          return `<div>${escapeHtml(d.rows[row])}, after ${escapeHtml(plainToken(d.tokens[t]))}:</div>` + alternativesHtml(alts, "") + real;
        });
        tr.appendChild(td);
      }
      table.appendChild(tr);
    }
    table.appendChild(head);
    out.textContent = "";
    out.appendChild(table);
    out.dataset.state = "done";
    showError(null);
  } catch (e) {
    showError(e);
  }
}
$("lens-run").addEventListener("click", runLens);
$("lens-text").addEventListener("keydown", (e) => e.key === "Enter" && runLens());

// ----- chat view -----------------------------------------------------------------------------

let chat = [];
function addMessage(role, text) {
  const m = document.createElement("div");
  m.className = "msg " + role;
  m.textContent = text;
  $("chat-log").appendChild(m);
  return m;
}

async function sendChat() {
  const text = $("chat-input").value.trim();
  if (!text) return;
  $("chat-input").value = "";
  chat.push({ role: "user", content: text });
  addMessage("user", text);
  const reply = addMessage("assistant", "");
  const system = $("chat-system").value.trim();
  const messages = (system ? [{ role: "system", content: system }] : []).concat(chat);
  $("chat-send").disabled = true;
  let content = "";
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages, temperature: Number($("chat-temp").value), max_tokens: 200, stream: true }),
    });
    await readEvents(res, (chunk) => {
      const c = chunk.choices[0];
      if (c && c.delta && c.delta.content) {
        content += c.delta.content;
        reply.textContent = content;
      }
    });
    chat.push({ role: "assistant", content });
    $("chat-log").dataset.replies = chat.filter((m) => m.role === "assistant").length;
  } catch (e) {
    showError(e);
    reply.remove();
    chat.pop();
  }
  $("chat-send").disabled = false;
}
$("chat-send").addEventListener("click", sendChat);
$("chat-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    sendChat();
  }
});
$("chat-clear").addEventListener("click", () => {
  chat = [];
  $("chat-log").textContent = "";
});

// ----- start ---------------------------------------------------------------------------------

loadInfo().catch(showError);
runTokenize();
if (location.hash.length > 1) openView(location.hash.slice(1));
