// Arranging the timeline by dragging a card by its handle (SortableJS, vendored). The new
// order of every shot goes to the server as one request; it answers with the timeline.
// Without scripts, or from the keyboard, each card's ↑ and ↓ buttons do the same.
function arrangeTimeline() {
  const timeline = document.getElementById("timeline");
  if (!timeline || !timeline.dataset.orderUrl || timeline.sortable) return;
  timeline.sortable = Sortable.create(timeline, {
    draggable: ".shot-card",
    handle: ".drag-handle",
    animation: 150,
    onStart: () => { timeline.dataset.dragging = "on"; },
    onEnd: (event) => {
      delete timeline.dataset.dragging;
      if (event.oldDraggableIndex === event.newDraggableIndex) return;
      const form = document.getElementById("order-form");
      form.dataset.card = event.item.id; // the card to keep in view once the order is saved
      form.querySelectorAll("input[name=shot]").forEach((input) => input.remove());
      for (const card of timeline.querySelectorAll(".shot-card")) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "shot";
        input.value = card.dataset.shotId;
        form.append(input);
      }
      htmx.trigger(form, "storyboard:reorder");
    },
  });
}
// A live update while a card is being dragged would pull the card from under the hand;
// it is skipped: the drop answers with the whole timeline, as it is then. So is a card's
// poll (while the stream is down), which would swap a card out of the list being sorted;
// the card asks again at the next poll.
function whileDragging(event) {
  const timeline = document.getElementById("timeline");
  if (timeline && timeline.dataset.dragging && timeline.contains(event.target)) {
    event.preventDefault();
  }
}
document.addEventListener("htmx:sseBeforeMessage", whileDragging);
document.addEventListener("htmx:beforeRequest", whileDragging);
document.addEventListener("DOMContentLoaded", arrangeTimeline);
document.addEventListener("htmx:load", arrangeTimeline);
