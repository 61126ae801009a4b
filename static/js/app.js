// Live status: cards and exports poll for themselves only while the event stream is down.
const liveStatus = () => document.getElementById("live-status");

document.addEventListener("htmx:sseOpen", () => { window.storyboardLive = true; });
document.addEventListener("htmx:sseError", () => {
  window.storyboardLive = false;
  const status = liveStatus();
  if (status) status.hidden = false;
});
// The stream says whether it can go on (data-live="on") or the page must poll instead.
document.addEventListener("htmx:sseMessage", (event) => {
  if (event.detail.type !== "live-status") return;
  window.storyboardLive = event.detail.data.includes('data-live="on"');
});

// A share link is selected whole when clicked, ready to copy.
document.addEventListener("click", (event) => {
  if (event.target.matches("input.share-link")) event.target.select();
});
