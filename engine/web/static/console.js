/* Small behaviours shared by every page; each page works without them. */
(function () {
  "use strict";
  // a button that asks before it acts (data-confirm="Cancel this run?")
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var text = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (text && !window.confirm(text)) {
      event.preventDefault();
    }
  });
  // a refresh by polling (hx-trigger="every ...") must not take the keyboard's place away:
  // while focus is inside the part to be replaced, this refresh is skipped (the next comes)
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    var polled = (target.getAttribute("hx-trigger") || "").indexOf("every ") === 0;
    if (polled && active && active !== document.body && target.contains(active)) {
      event.detail.shouldSwap = false;
    }
  });
})();
