// The role picker: search as you type, then switch the default slot, open
// a role in its own slot, or star it. It only sends role names to
// rolecall; credentials never reach this page.
"use strict";
const max = 50;
let roles = [];
const q = document.getElementById("q");
const list = document.getElementById("roles");
const status = document.getElementById("status");

function say(text, error) {
  status.textContent = text;
  status.className = error ? "error" : "";
}

async function load() {
  const resp = await fetch("/api/roles", { credentials: "same-origin" });
  if (!resp.ok) {
    say(await resp.text(), true);
    return;
  }
  roles = await resp.json();
  render();
}

function matches(role, terms) {
  const label = role.label.toLowerCase();
  return terms.every((t) => label.includes(t));
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
    if (r.loaded) li.className = "loaded";
    li.append(
      button(r.favorite ? "★" : "☆", "star", () => act("favorite", r.name, !r.favorite)),
    );
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = r.label;
    li.append(label, button("Use", "use", () => act("load", r.name)), button("Own slot", "slot", () => act("slot", r.name)));
    list.append(li);
  }
  const more = found.length > max ? ` (first ${max} shown: type more)` : "";
  say(`${found.length} of ${roles.length} roles${more}`);
}

async function act(action, name, on) {
  say(action === "favorite" ? "Saving…" : `Loading ${name}…`);
  const resp = await fetch(`/api/${action}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, on: !!on }),
  });
  if (!resp.ok) {
    let text = await resp.text();
    try { text = JSON.parse(text).error; } catch (e) { /* plain text */ }
    say(text, true);
    return;
  }
  await load();
  if (action === "load") say(`Serving ${name}`);
  if (action === "slot") say(`Serving ${name} in its own slot too`);
}

q.addEventListener("input", render);
q.addEventListener("keydown", (e) => {
  const first = list.querySelector("li");
  if (e.key === "Enter" && first) act("load", first.dataset.name);
});
load();
