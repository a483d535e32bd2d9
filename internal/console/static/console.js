// The console's only script, loaded from the same origin (the CSP allows no
// inline script). Every form works without it; it adds copy buttons, the live
// count of the feed form, the upload progress of the import and the reload of
// a running import job's page.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: data-copy names the input whose value is copied.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.dataset.copy);
      if (!input) return;
      var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the value stays selected */ }
      }
    });
  });

  // Live count of the objects the feed form's filter shows.
  var form = document.getElementById("feed-form");
  var out = document.getElementById("live-count");
  if (form && out) {
    var timer = null;
    var count = function () {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (v, k) {
        if (k !== "csrf" && k !== "title" && k !== "description" && k !== "alias") params.append(k, v);
      });
      fetch(form.dataset.countUrl + "?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (a) {
          out.hidden = false;
          if (a.error) {
            out.textContent = (a.field ? a.field + ": " : "") + a.error + (a.describe ? " — " + a.describe : "");
          } else {
            out.textContent = "Matching objects now: " + (a.at_least ? "at least " : "") + a.count + " — " + a.describe;
          }
        })
        .catch(function () { out.hidden = true; });
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(count, 300); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(count, 100); });
    count();
  }

  // Upload with progress: the same multipart POST, sent by XHR for its upload events.
  var imp = document.getElementById("import-form");
  if (imp && window.XMLHttpRequest && window.FormData) {
    imp.addEventListener("submit", function (ev) {
      var file = document.getElementById("f-file");
      if (!file.files.length) return; // the server says what is missing
      ev.preventDefault();
      var bar = document.getElementById("import-progress");
      var status = document.getElementById("import-status");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", imp.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", imp.querySelector("input[name=csrf]").value);
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var pct = Math.round(100 * e.loaded / e.total);
          bar.value = pct;
          bar.textContent = pct + "%";
          status.textContent = "Uploaded " + pct + "% (objects are stored as they arrive)";
        }
      });
      xhr.addEventListener("load", function () {
        bar.value = 100;
        var a = null;
        try { a = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: an error page */ }
        if (xhr.status === 200 && a) {
          status.textContent = (a.file ? a.file + ": " : "") + a.summary + (a.error ? " — the import stopped: " + a.error : "");
          if (a.rejections && a.rejections.length) status.textContent += " — first: " + a.rejections[0];
          if (a.job) {
            var link = document.createElement("a");
            link.href = imp.action + "/" + encodeURIComponent(a.job);
            link.textContent = "the import job";
            status.append(" — ", link);
          }
        } else if (a && a.errors) {
          status.textContent = Object.keys(a.errors).map(function (k) { return a.errors[k]; }).join(" ");
        } else {
          status.textContent = "The import failed (HTTP " + xhr.status + ").";
        }
      });
      xhr.addEventListener("error", function () { status.textContent = "The upload failed: the connection was lost."; });
      xhr.send(new FormData(imp));
    });
  }

  // A running import job's page reloads to show its counts as they grow.
  var running = document.querySelector("[data-reload]");
  if (running) {
    setTimeout(function () { location.reload(); }, 1000 * Number(running.dataset.reload));
  }
});
