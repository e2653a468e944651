/* The colour theme: "auto" follows prefers-color-scheme; "light" or "dark" is the visitor's
   choice, kept in localStorage. Loaded in <head>, before the page paints. */
(function () {
  "use strict";
  var KEY = "runbook-theme";
  var ORDER = ["auto", "light", "dark"];
  var NAMES = { auto: "Auto", light: "Light", dark: "Dark" };

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return ORDER.indexOf(value) >= 0 ? value : "auto";
    } catch (e) {
      return "auto"; // storage refused (private mode): follow the system
    }
  }

  function apply(theme) {
    var root = document.documentElement;
    if (theme === "auto") {
      root.removeAttribute("data-theme");
    } else {
      root.setAttribute("data-theme", theme);
    }
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) {
      return;
    }
    function show(theme) {
      button.querySelector(".theme-name").textContent = NAMES[theme];
      button.setAttribute("aria-label", "Colour theme: " + NAMES[theme] + " (change)");
      button.dataset.theme = theme;
    }
    show(stored());
    button.hidden = false; // without JavaScript the toggle could not work: it stays hidden
    button.addEventListener("click", function () {
      var next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
      try {
        window.localStorage.setItem(KEY, next);
      } catch (e) {
        /* not remembered, still applied */
      }
      apply(next);
      show(next);
    });
  });
})();
