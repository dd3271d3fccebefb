// Follows a running activity's log: reads the console's NDJSON log stream (same session
// cookie as the page) and appends lines as they arrive. Without JavaScript the page
// shows the log as it was when loaded.
"use strict";

(function () {
  var log = document.getElementById("activity-log");
  if (!log || log.getAttribute("data-running") !== "1" || !window.fetch) return;
  var url = log.getAttribute("data-log-url");
  var after = parseInt(log.getAttribute("data-after") || "0", 10);
  var stateBox = document.getElementById("activity-state");
  var progress = document.getElementById("activity-progress");
  var resultBox = document.getElementById("activity-result");
  var completedBox = document.getElementById("activity-completed");
  var cancelBox = document.getElementById("activity-cancel");
  var hint = document.getElementById("log-hint");
  var labels = { pending: "pending", in_progress: "in progress", complete: "complete", cancelled: "cancelled" };

  function showState(item) {
    if (progress && typeof item.percent === "number") progress.value = item.percent;
    if (!stateBox || !item.state) return;
    var text = item.state === "complete" && item.result === "failure" ? "failed" : labels[item.state] || item.state;
    var kind = { pending: "badge-wait", in_progress: "badge-busy", complete: "badge-good", cancelled: "" }[item.state] || "";
    if (text === "failed") kind = "badge-bad";
    var badge = document.createElement("span");
    badge.className = "badge " + kind;
    badge.textContent = text;
    stateBox.replaceChildren(badge);
    if (completedBox && item.completed_at) completedBox.textContent = item.completed_at;
    if (cancelBox && (item.state === "complete" || item.state === "cancelled")) cancelBox.remove();
    if (resultBox && item.result) {
      var result = document.createElement("span");
      result.className = item.result === "success" ? "result-good" : "result-bad";
      result.textContent = item.result;
      resultBox.replaceChildren(result);
    }
  }

  function handle(line) {
    if (!line.trim()) return false;
    var item = JSON.parse(line);
    if (typeof item.seq === "number") {
      var follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      log.append(document.createTextNode(item.message));
      after = item.seq;
      if (follow) log.scrollTop = log.scrollHeight;
    } else if (item.state) {
      showState(item);
    }
    if (item.seal) {
      if (hint) hint.remove();
      log.setAttribute("data-running", "0");
      return true;
    }
    return false;
  }

  function follow(attempt) {
    var buffer = "";
    var sealed = false;
    var decoder = new TextDecoder();
    fetch(url + "?after=" + after, { credentials: "same-origin", headers: { Accept: "application/x-ndjson" } })
      .then(function (response) {
        if (!response.ok || !response.body) throw new Error("log unavailable");
        var reader = response.body.getReader();
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var lines = buffer.split("\n");
            buffer = lines.pop();
            for (var i = 0; i < lines.length; i++) {
              if (handle(lines[i])) sealed = true;
            }
            return pump();
          });
        }
        return pump();
      })
      .then(function () {
        // The server ends long streams; pick up where this one stopped.
        if (!sealed) window.setTimeout(function () { follow(0); }, 500);
      })
      .catch(function () {
        if (attempt < 5) window.setTimeout(function () { follow(attempt + 1); }, 1000 * (attempt + 1));
      });
  }

  follow(0);
})();
