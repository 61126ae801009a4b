// Keyboard shortcuts on a timeline: j/k (or the left and right arrows) select the next or
// previous shot, p (or space) plays it, g generates it, e opens its editor, ? lists them.
// The selection is kept by the card's id, so it survives the live swaps that replace the
// cards; it is remembered per page for the way back from the editor.
(() => {
  const CARDS = "#timeline article.shot-card[data-shot]";
  const remembered = `storyboard:selected-shot:${location.pathname}`;
  let selectedId = sessionStorage.getItem(remembered);
  let focusAfterSwap = false;
  let shownStatus = null; // the selected card's status last said, to say when it changes

  const cards = () => [...document.querySelectorAll(CARDS)];
  const selected = () => (selectedId && document.getElementById(selectedId)) || null;
  const dialog = () => document.getElementById("shortcuts");

  function announce(text) {
    const status = document.getElementById("shortcut-status");
    if (status) status.textContent = text;
  }

  function describe(card) {
    const status = card.querySelector("[data-role=status]");
    return `Shot ${card.dataset.shot} of ${cards().length}${status ? `, ${status.textContent.trim()}` : ""}`;
  }

  // Shows the selection on the card that has the selected id (after a swap, the new one).
  function mark() {
    for (const card of cards()) {
      const on = card.id === selectedId;
      card.classList.toggle("is-selected", on);
      if (on) card.setAttribute("aria-current", "true");
      else card.removeAttribute("aria-current");
      if (!card.hasAttribute("tabindex")) card.tabIndex = -1;
    }
  }

  function select(card, { focus = true } = {}) {
    if (!card) return;
    selectedId = card.id;
    sessionStorage.setItem(remembered, selectedId);
    mark();
    shownStatus = card.dataset.status;
    if (focus) {
      card.focus({ preventScroll: true });
      const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
      card.scrollIntoView({ block: "nearest", inline: "nearest", behavior: still ? "auto" : "smooth" });
      announce(describe(card));
    }
  }

  function step(by) {
    const all = cards();
    if (!all.length) return;
    const at = all.indexOf(selected());
    const next = at < 0 ? 0 : Math.min(Math.max(at + by, 0), all.length - 1);
    select(all[next]);
  }

  function play() {
    // The selected shot's clip; with no shot selected, the cut.
    const card = selected();
    const video = card ? card.querySelector("video") : document.querySelector("video.cut-player");
    if (!video) {
      announce(card ? `Shot ${card.dataset.shot} has no clip to play yet.` : "Nothing to play yet.");
      return;
    }
    if (video.paused) video.play().catch(() => announce("The clip could not play."));
    else video.pause();
  }

  function generate() {
    const card = selected();
    if (!card) return announce("Select a shot first: j or k.");
    const form = card.querySelector('form[action$="/regenerate"]');
    if (!form) return announce(`Shot ${card.dataset.shot} cannot be generated now.`);
    // It bills: static/js/bill.js asks first, and says whether it was sent.
    focusAfterSwap = card.id;
    form.requestSubmit();
  }

  function edit() {
    const card = selected();
    if (!card) return announce("Select a shot first: j or k.");
    const link = card.querySelector('a[href$="/edit"]');
    if (!link) return announce(`Shot ${card.dataset.shot} cannot be edited here.`);
    location.assign(link.href);
  }

  function openHelp() {
    const help = dialog();
    if (help && !help.open) help.showModal();
  }

  // Typing, or a key meant for a control (a button's space, a video's arrows), is left alone.
  const typing = (target) =>
    target instanceof Element &&
    (target.isContentEditable || target.closest("input, textarea, select, [contenteditable]"));
  const onControl = (target) =>
    target instanceof Element &&
    target !== document.body &&
    !target.matches(".shot-card") &&
    target.closest("a, button, summary, video, audio, [tabindex], [role=button]");

  const keys = {
    j: () => step(1),
    k: () => step(-1),
    ArrowRight: () => step(1),
    ArrowLeft: () => step(-1),
    p: play,
    " ": play,
    g: generate,
    e: edit,
    "?": openHelp,
  };
  const onlyWhenFree = new Set(["ArrowRight", "ArrowLeft"]);

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.shiftKey && event.key !== "?") return;
    const action = keys[event.key];
    if (!action || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (!document.querySelector("#timeline")) return;
    if (onlyWhenFree.has(event.key) && onControl(event.target)) return;
    // Space still scrolls the page, unless a card has the focus (after j or k).
    if (event.key === " " && !(event.target instanceof Element && event.target.matches(CARDS))) return;
    event.preventDefault();
    action();
  });

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-shortcuts-open]");
    if (opener) return openHelp();
    const card = event.target.closest(CARDS);
    if (card) select(card, { focus: false });
  });

  // A swap that replaces the card holding the focus (the card itself, or one of its
  // buttons) puts the focus on its successor, rather than losing it to the page.
  // A new timeline keeps the filmstrip where it was scrolled to, and the card acted on
  // (by a button of its own: a take picked, a frame to continue from; or dragged, which
  // arrange.js writes on the order form as data-card) in view and focused.
  let stripLeft = null;
  const beforeSwap = (event) => {
    const active = document.activeElement;
    const holder = active && active !== document.body && active.closest(CARDS);
    if (holder) focusAfterSwap = holder.id;
    const timeline = document.getElementById("timeline");
    const detail = event.detail || {};
    if (!timeline || (detail.target || event.target) !== timeline) return;
    stripLeft = timeline.scrollLeft;
    const acted = detail.xhr && detail.xhr.storyboardCard;
    if (acted) focusAfterSwap = acted;
  };
  // Which card a request acts on, said on the request for its answer's swap.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const by = event.target;
    const xhr = event.detail && event.detail.xhr;
    if (!xhr || !(by instanceof Element)) return;
    const card = by.closest(CARDS);
    xhr.storyboardCard = card ? card.id : by.dataset.card || null;
  });
  const afterSwap = () => {
    const timeline = document.getElementById("timeline");
    if (timeline && stripLeft !== null) {
      timeline.scrollLeft = stripLeft;
      stripLeft = null;
    }
    mark();
    const now = selected();
    if (now && shownStatus && now.dataset.status !== shownStatus) {
      shownStatus = now.dataset.status;
      announce(describe(now));
    }
    if (!focusAfterSwap) return;
    const card = document.getElementById(focusAfterSwap);
    const active = document.activeElement;
    if (card && (!active || active === document.body)) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest", inline: "nearest" });
      focusAfterSwap = false;
    }
  };
  // Once the person puts the focus elsewhere, a swap leaves it there.
  document.addEventListener("focusin", (event) => {
    if (event.target.id !== focusAfterSwap) focusAfterSwap = false;
  });
  document.addEventListener("pointerdown", () => { focusAfterSwap = false; });
  document.addEventListener("htmx:beforeSwap", beforeSwap);
  document.addEventListener("htmx:sseBeforeMessage", beforeSwap);
  for (const name of ["htmx:afterSettle", "htmx:sseMessage", "htmx:load"]) {
    document.addEventListener(name, afterSwap);
  }
  document.addEventListener("DOMContentLoaded", mark);
})();
