// Cards poll for their own status only while the live event stream is down.
document.addEventListener("htmx:sseOpen", () => { window.storyboardLive = true; });
document.addEventListener("htmx:sseError", () => { window.storyboardLive = false; });
