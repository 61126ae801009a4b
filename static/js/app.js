// Cards poll for their own status only while the live event stream is down.
document.addEventListener("htmx:sseOpen", () => { window.storyboardLive = true; });
document.addEventListener("htmx:sseError", () => { window.storyboardLive = false; });

// A share link is selected whole when clicked, ready to copy.
document.addEventListener("click", (event) => {
  if (event.target.matches("input.share-link")) event.target.select();
});
