// Storyboard's few behaviours; no inline script anywhere (the content security policy).

// Live status: while the event stream is down, cards and exports still in progress poll
// for themselves: every two seconds the body says "storyboard:poll" and they ask.
const liveStatus = () => document.getElementById("live-status");

document.addEventListener("htmx:sseOpen", () => { window.storyboardLive = true; });
document.addEventListener("htmx:sseError", () => {
  window.storyboardLive = false;
  const status = liveStatus();
  if (status) status.hidden = false;
});
// The stream says whether it can go on (data-live="on") or the page must poll instead,
// in the #live-status it swaps in: read on htmx:afterSwap, which the new element says
// (htmx:sseMessage is said by the element replaced, out of the page by then).
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.target.id === "live-status") window.storyboardLive = event.target.dataset.live === "on";
});
setInterval(() => {
  if (!window.storyboardLive) htmx.trigger(document.body, "storyboard:poll");
}, 2000);

// A card replaced by a live event keeps what its viewer had open (its comments, its
// trim, its seam inspector); a comment being written is kept by hx-preserve.
// The open ones are noted before the swap and opened again on htmx:afterSwap, which the
// new content says at once: htmx:sseMessage is said by the element replaced, out of the
// page by then, so no listener here hears it. A details that loads when opened (the seam
// inspector, hx-trigger="toggle once") is taken over by htmx first, its trigger bound
// before its `open` is restored (htmx would take it over only once settled, after the
// browser's own toggle), and told "toggle": `once` keeps it to one request however
// many toggles it is told.
let openBeforeSwap = [];
document.addEventListener("htmx:sseBeforeMessage", (event) => {
  openBeforeSwap = [...event.target.querySelectorAll("details[id][open]")].map((d) => d.id);
});
document.addEventListener("htmx:afterSwap", () => {
  const ids = openBeforeSwap;
  openBeforeSwap = [];
  for (const id of ids) {
    const details = document.getElementById(id);
    if (!details || details.open) continue;
    htmx.process(details);
    details.open = true;
    if (details.matches("[hx-trigger~=toggle]")) htmx.trigger(details, "toggle");
  }
});

// A refusal (403) or a conflict answered to htmx is shown, not swallowed.
document.addEventListener("htmx:responseError", (event) => {
  const flash = document.getElementById("flash");
  if (!flash) return;
  const message = document.createElement("p");
  message.className = "message error";
  message.setAttribute("role", "alert");
  const page = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
  const said = page.querySelector("[data-role=refusal]");
  message.textContent = said ? said.textContent.trim() : "That did not work; reload and try again.";
  flash.replaceChildren(message);
});

// An answer is rendered when its request is, and may reach the page after a live event
// rendered later: Export's answer, say, after the event of the export the worker has
// already finished (it starts at once). An export card the page shows is kept over an
// older one (data-changed: when the export last changed) that an answer brings.
let shownExports = new Map();
document.addEventListener("htmx:beforeSwap", () => {
  const cards = document.querySelectorAll(".export-card[data-changed]");
  shownExports = new Map([...cards].map((card) => [card.id, card]));
});
document.addEventListener("htmx:afterSwap", () => {
  for (const card of document.querySelectorAll(".export-card[data-changed]")) {
    const shown = shownExports.get(card.id);
    if (shown && !shown.isConnected && Number(shown.dataset.changed) > Number(card.dataset.changed)) {
      card.replaceWith(shown);
      htmx.process(shown);
    }
  }
  shownExports = new Map();
});

// A link is selected whole when clicked, ready to copy.
document.addEventListener("click", (event) => {
  if (event.target.matches("input.share-link")) event.target.select();
});

// "Copy link" copies the link field it names, and says so; where the clipboard is
// refused (a page not served over HTTPS), the link is left selected for Ctrl+C.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  const field = button && document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch {
    button.textContent = document.execCommand("copy") ? "Copied" : "Selected: press Ctrl+C";
  }
});

// Trimming on a card: moving the in or out point shows that frame in the card's clip.
document.addEventListener("input", (event) => {
  const scrub = event.target;
  if (!scrub.matches("input[data-scrub]")) return;
  scrub.closest("label").querySelector("output").textContent = scrub.value;
  const fps = Number(scrub.form.dataset.fps || 24);
  const video = scrub.closest(".shot-card").querySelector("video");
  if (video) {
    video.pause();
    video.currentTime = (Number(scrub.value) + 0.5) / fps;
  }
});

// The export form joins the cut that is ready, as live events say, until its viewer
// picks one: their pick then stays.
document.addEventListener("change", (event) => {
  if (event.target.id === "export-kind") event.target.dataset.picked = "true";
});
document.addEventListener("htmx:sseBeforeMessage", (event) => {
  if (event.target.id === "export-kind" && event.target.dataset.picked) event.preventDefault();
});

// A form the live stream rendered was rendered for no one request, so it carries no CSRF
// field (htmx sends the page's token in a header). Should one be posted as a plain form
// (a submit landing before htmx has taken the new form over), it gets the page's token.
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (!headers["X-CSRFToken"]) return;
    let field = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "csrfmiddlewaretoken";
      form.append(field);
    }
    if (!field.value) field.value = headers["X-CSRFToken"];
  },
  true,
);
