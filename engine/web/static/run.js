/* A run's page, live: one EventSource on the run's events. Output lines are appended to the
   logs (filtered by the page's step and host, as the server filters them); any other event
   fetches the live fragment (status, buttons, timeline) again. The page works without this
   script: it is complete as served. */
(function () {
  "use strict";
  var root = document.getElementById("run");
  if (!root || !window.EventSource) {
    return;
  }
  var liveUrl = root.dataset.live;
  var step = root.dataset.step || "";
  var host = root.dataset.host || "";
  var lines = document.getElementById("log-lines");
  var said = document.getElementById("stream-state");
  var pending = null;
  var fetching = false;
  var again = false;

  function shown(line) {
    // SSH steps write each line as "HOST: text" (api/streams.py of_host)
    return !host || line.indexOf(host + ": ") === 0;
  }

  function append(stepId, textLines) {
    var atEnd = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
    var fragment = document.createDocumentFragment();
    textLines.forEach(function (text) {
      var label = document.createElement("span");
      label.className = "log-step";
      label.textContent = stepId + "│";
      fragment.appendChild(label);
      fragment.appendChild(document.createTextNode(" " + text + "\n"));
    });
    lines.appendChild(fragment);
    if (atEnd) {
      lines.scrollTop = lines.scrollHeight;
    }
  }

  function busyTyping(live) {
    // a reason being typed must not be wiped by a refresh: wait until it is sent or left
    var active = document.activeElement;
    return active && live.contains(active) && active.tagName === "INPUT" && active.value !== "";
  }

  function refresh() {
    var live = document.getElementById("live");
    if (!live) {
      return;
    }
    if (busyTyping(live)) {
      document.activeElement.addEventListener("blur", schedule, { once: true });
      return;
    }
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    var focused = document.activeElement && document.activeElement.id;
    fetch(liveUrl, {
      headers: { "HX-Request": "true", "HX-Current-URL": window.location.href },
      credentials: "same-origin"
    })
      .then(function (answer) {
        var redirect = answer.headers.get("HX-Redirect");
        if (redirect) {
          window.location.assign(redirect); // signed out meanwhile
          return null;
        }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#live");
        var current = document.getElementById("live");
        if (fresh && current) {
          current.replaceWith(fresh);
          if (focused && document.getElementById(focused)) {
            document.getElementById(focused).focus();
          }
          root.dispatchEvent(new CustomEvent("run:refreshed", { bubbles: true }));
        }
      })
      .catch(function () {
        /* the next event tries again */
      })
      .finally(function () {
        fetching = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function schedule() {
    // a burst of events (a step's start, output and end) is one refresh
    if (pending !== null) {
      window.clearTimeout(pending);
    }
    pending = window.setTimeout(function () {
      pending = null;
      refresh();
    }, 150);
  }

  if (root.dataset.finished === "true") {
    return;
  }
  var source = new EventSource(root.dataset.stream);
  said.textContent = "Following the run live.";
  source.addEventListener("step.output", function (message) {
    var event = JSON.parse(message.data);
    if (step && event.step !== step) {
      return;
    }
    var kept = (event.data.lines || []).filter(shown);
    if (kept.length) {
      append(event.step, kept);
    }
  });
  source.onmessage = schedule; // unnamed messages: none are sent, but cost nothing to handle
  source.addEventListener("end", function () {
    source.close();
    said.textContent = "The run has finished.";
    schedule();
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CONNECTING) {
      said.textContent = "Connection lost; reconnecting…";
    }
  };
  source.onopen = function () {
    said.textContent = "Following the run live.";
  };
  // the events that change what the live part shows: the page lists them (run_page.py)
  var TYPES = (root.dataset.refreshOn || "").split(" ").filter(Boolean);
  TYPES.forEach(function (type) {
    source.addEventListener(type, schedule);
  });
})();
