// Keyboard navigation for the dashboard, as feed readers such as Miniflux have it:
// j/k next/previous story, o (or Enter) open it, m mark read/unread, s star, v the original.
// Every page works without this file: the keys only press the page's own links and forms.
"use strict";

(function () {
  const LABELS = {
    read: (on) => (on ? "Mark unread" : "Mark read"),
    star: (on) => (on ? "★ Starred" : "☆ Star"),
  };

  // Read and star forms post in the background, so the page (and its place) stays.
  async function toggle(form) {
    const what = form.action.endsWith("/star") ? "star" : "read";
    const value = form.querySelector("input[name=value]");
    const response = await fetch(form.action, {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const on = Boolean((await response.json())[what]);
    value.value = on ? "0" : "1";
    const button = form.querySelector("button");
    button.textContent = LABELS[what](on);
    button.setAttribute("aria-pressed", String(on));
    const holder = form.closest(".story") || document.body;
    holder.classList.toggle(what === "read" ? "read" : "starred", on);
  }

  function submit(form) {
    if (!form) return;
    toggle(form).catch(() => form.submit()); // the plain post still works
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && /\/stories\/\d+\/(read|star)$/.test(form.action)) {
      event.preventDefault();
      submit(form);
    }
  });

  function stateForm(scope, what) {
    return scope.querySelector(`form[action$="/${what}"]`);
  }

  function openOriginal(link) {
    if (link) window.open(link.href, "_blank", "noopener,noreferrer");
  }

  // --- the list of stories ---
  let current = -1;
  const rows = () => Array.from(document.querySelectorAll("li.story"));

  function select(index) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("current", i === current));
    all[current].scrollIntoView({ block: "nearest" });
    all[current].querySelector("a.open").focus({ preventScroll: true });
  }

  function onList(key) {
    const row = rows()[current];
    if (key === "j") select(current + 1);
    else if (key === "k") select(current - 1);
    else if (!row) return false;
    else if (key === "o" || key === "Enter") window.location.href = row.querySelector("a.open").href;
    else if (key === "m") submit(stateForm(row, "read"));
    else if (key === "s") submit(stateForm(row, "star"));
    else if (key === "v") openOriginal(row.querySelector("a.original"));
    else return false;
    return true;
  }

  // --- one item ---
  function onItem(key) {
    const go = (id) => {
      const link = document.getElementById(id);
      if (link) window.location.href = link.href;
    };
    if (key === "j") go("older");
    else if (key === "k") go("newer");
    else if (key === "m") submit(stateForm(document, "read"));
    else if (key === "s") submit(stateForm(document, "star"));
    else if (key === "v") openOriginal(document.getElementById("original"));
    else return false;
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const page = document.body.dataset.page;
    const key = event.key === "Enter" ? "Enter" : event.key.toLowerCase();
    if (key === "Enter" && page === "items" && current < 0) return; // a focused link's own Enter
    const handled = page === "items" ? onList(key) : page === "item" ? onItem(key) : false;
    if (handled) event.preventDefault();
  });
})();
