// Asking before anything is billed. A form or button marked data-bill (Generate, a card's
// Generate or Regenerate, Regenerate from here, Make final, a held seam's two ways on),
// however it is sent (its button, or the g key, which submits a card's form), first opens
// #bill-confirm with what it would cost: its data-bill-cost, or the live estimate that
// data-bill-from names. Enter sends it, Esc (or "Not now") leaves it unsent. Nothing to
// bill, no question.
(() => {
  const dialog = () => document.getElementById("bill-confirm");

  function say(text) {
    const status = document.getElementById("shortcut-status");
    if (status) status.textContent = text;
  }

  function costOf(form) {
    if (form.dataset.billFrom) {
      const estimate = document.querySelector(form.dataset.billFrom);
      return estimate ? estimate.textContent.trim().replace(/\s+/g, " ") : "";
    }
    return (form.dataset.billCost || "").trim();
  }

  // A live update may have replaced the form while the question was open (the head,
  // a card): htmx drops a request from an element no longer on the page, so the answer
  // goes to the one that stands in its place now, the same request.
  function send(form, issueRequest, what) {
    if (form.isConnected) {
      issueRequest(true);
      say(`${what}: sent.`);
      return;
    }
    const url = form.getAttribute("hx-post");
    const now = url && document.querySelector(`[data-bill][hx-post="${CSS.escape(url)}"]`);
    if (!now) {
      say(`${what}: the page changed meanwhile, nothing sent.`);
      return;
    }
    now.dataset.billAnswered = "on";
    // Sent by htmx from the new element, never as a plain form post (a form the stream
    // rendered carries no CSRF field of its own: htmx sends the page's in a header).
    htmx.ajax("POST", url, { source: now });
    say(`${what}: sent.`);
  }

  // htmx asks before each request: a billed form's waits for the answer.
  document.addEventListener("htmx:confirm", (event) => {
    const form = event.detail.elt;
    const ask = dialog();
    if (!ask || !(form instanceof HTMLElement) || !form.dataset.bill) return;
    if (form.dataset.billAnswered) {
      delete form.dataset.billAnswered; // asked already, of the one it replaced
      return;
    }
    const cost = costOf(form);
    // A prompt naming no one of the cast (@Nobody): asked about even with nothing to bill.
    const warning = (form.dataset.billWarning || "").trim();
    if (!cost && !warning) return;
    event.preventDefault();
    const what = form.dataset.bill;
    ask.querySelector("[data-role=bill-what]").textContent = `${what}?`;
    ask.querySelector("[data-role=bill-cost]").textContent = cost;
    const warned = ask.querySelector("[data-role=bill-warning]");
    if (warned) {
      warned.textContent = warning;
      warned.hidden = !warning;
    }
    ask.returnValue = "";
    ask.addEventListener(
      "close",
      () => {
        if (ask.returnValue === "bill") {
          send(form, event.detail.issueRequest, what);
        } else {
          say(`${what}: not sent, nothing billed.`);
        }
      },
      { once: true },
    );
    ask.showModal();
    ask.querySelector("[data-role=bill-accept]").focus();
  });

  // Enter sends it wherever the focus is in the question ("Not now" answers itself).
  document.addEventListener("keydown", (event) => {
    const ask = dialog();
    if (event.key !== "Enter" || !ask || !ask.open || !ask.contains(event.target)) return;
    if (event.target.matches("button") && event.target.value !== "bill") return;
    event.preventDefault();
    ask.close("bill");
  });
})();
