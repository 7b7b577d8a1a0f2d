// The role picker: search as you type, then switch the default slot, open
// a role in its own slot, or star it. It only sends role names to
// rolecall; credentials never reach this page. Its words come from
// rolecall (/api/texts); the list is read again every few seconds, so a
// role waiting for a sign-in shows when it is served, and a page whose
// rolecall has gone (restarted, or the session over) says so.
"use strict";
const max = 50;
const every = 5000;
let roles = [];
let texts = null;
let expired = false;
const q = document.getElementById("q");
const list = document.getElementById("roles");
const status = document.getElementById("status");

function t(key, ...args) {
  const s = texts ? texts[key] : key;
  return s.replace(/\{(\d+)\}/g, (_, i) => String(args[+i]));
}

function say(text, error) {
  status.textContent = text;
  status.className = error ? "error" : "";
}

// expire shows, once and for good, that this page can do nothing more.
function expire() {
  expired = true;
  say(texts ? t("expired") : "This page has expired: open a new one from rolecall's tray menu (Find a role…).", true);
  list.replaceChildren();
  q.disabled = true;
  document.body.classList.add("expired");
}

// call fetches path; a page whose session or rolecall is gone expires.
async function call(path, init) {
  let resp;
  try {
    resp = await fetch(path, Object.assign({ credentials: "same-origin" }, init));
  } catch (e) {
    expire(); // rolecall is not there any more
    return null;
  }
  if (resp.status === 403) {
    expire();
    return null;
  }
  return resp;
}

async function load() {
  if (expired) return false;
  if (!texts) {
    const r = await call("/api/texts");
    if (!r) return false;
    texts = await r.json();
  }
  const resp = await call("/api/roles");
  if (!resp) return false;
  roles = await resp.json();
  render();
  return true;
}

function matches(role, terms) {
  const label = role.label.toLowerCase();
  return terms.every((x) => label.includes(x));
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function render() {
  const terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
  const found = roles.filter((r) => matches(r, terms));
  list.replaceChildren();
  for (const r of found.slice(0, max)) {
    const li = document.createElement("li");
    li.dataset.name = r.name;
    li.className = [r.loaded ? "loaded" : "", r.pending ? "pending" : ""].join(" ").trim();
    li.append(button(r.favorite ? "★" : "☆", "star", () => act("favorite", r.name, !r.favorite)));
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = r.label;
    li.append(label);
    if (r.pending) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = t("waitingMark");
      li.append(mark);
    }
    li.append(button(t("use"), "use", () => act("load", r.name)), button(t("ownSlot"), "slot", () => act("slot", r.name)));
    list.append(li);
  }
  const pending = roles.find((r) => r.pending);
  if (pending) {
    say(t("waiting", pending.name));
  } else if (found.length > max) {
    say(t("countMore", found.length, roles.length, max));
  } else {
    say(t("count", found.length, roles.length));
  }
}

async function act(action, name, on) {
  if (expired) return;
  say(action === "favorite" ? t("saving") : t("switching", name));
  const resp = await call(`/api/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, on: !!on }),
  });
  if (!resp) return;
  if (!resp.ok) {
    let text = await resp.text();
    try { text = JSON.parse(text).error; } catch (e) { /* plain text */ }
    say(text, true);
    return;
  }
  if (!(await load())) return;
  const r = roles.find((x) => x.name === name);
  if (!r || r.pending) return; // render said "waiting for sign-in"
  if (action === "load" && r.loaded) say(t("serving", name));
  if (action === "slot") say(t("servingSlot", name));
}

q.addEventListener("input", render);
q.addEventListener("keydown", (e) => {
  const first = list.querySelector("li");
  if (e.key === "Enter" && first) act("load", first.dataset.name);
});
load();
const poll = setInterval(() => {
  if (expired) clearInterval(poll);
  else if (!document.hidden) load();
}, every);
