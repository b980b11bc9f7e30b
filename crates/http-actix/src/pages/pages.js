// The confirmation and password-reset pages: read the token from the link, POST it to the
// API when the user submits, and say what happened. A GET of the page never changes state.
"use strict";
(function () {
  var token = new URLSearchParams(window.location.search).get("token") || "";
  var form = document.querySelector("form[data-action]");
  var outcome = document.getElementById("outcome");
  var submit = document.getElementById("submit");
  if (!form || !outcome || !submit) { return; }

  function show(kind, lines) {
    outcome.textContent = "";
    outcome.className = kind;
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      outcome.appendChild(p);
    });
  }

  if (!token) {
    show("error", ["This link has no token. Open the link from your email again."]);
    submit.disabled = true;
    return;
  }

  function problemLines(body, fallback) {
    if (body && Array.isArray(body.errors) && body.errors.length) {
      return body.errors.map(function (e) { return e.message; });
    }
    return [(body && body.detail) || fallback];
  }

  async function post(path, payload) {
    var response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "omit",
      cache: "no-store"
    });
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { status: response.status, body: body };
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    submit.disabled = true;
    show("", ["Sending…"]);
    try {
      if (form.dataset.action === "confirm") {
        var confirmed = await post("/api/auth/confirm", { token: token });
        if (confirmed.status === 200) {
          show("ok", ["Your email address is confirmed. You can now log in."]);
          form.hidden = true;
          return;
        }
        show("error", problemLines(confirmed.body, "The confirmation failed."));
        submit.disabled = confirmed.status >= 500;
        return;
      }
      var password = document.getElementById("password").value;
      if (password !== document.getElementById("repeat").value) {
        show("error", ["The two passwords differ."]);
        submit.disabled = false;
        return;
      }
      var reset = await post("/api/auth/password-reset/confirm", { token: token, password: password });
      if (reset.status === 204) {
        show("ok", ["Your password is set. Every session was signed out; log in with the new password."]);
        form.hidden = true;
        return;
      }
      show("error", problemLines(reset.body, "The password could not be set."));
      submit.disabled = reset.status === 400;
    } catch (e) {
      show("error", ["Roster could not be reached. Try again."]);
      submit.disabled = false;
    }
  });
})();
