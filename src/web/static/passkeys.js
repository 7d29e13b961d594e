// Passkeys (WebAuthn) on SkedCast's pages: the browser half of the
// ceremonies whose server half is src/web/passkeys.rs. Served same-origin at
// /static/passkeys.js (the pages' CSP allows script-src 'self' only). Each
// button names its endpoints and the page's CSRF token in data attributes;
// every POST sends the token in X-CSRF-Token with a JSON body.
//
//   [data-passkey-register]       security page: add a passkey
//   [data-passkey-sign-in]        sign-in page: a passkey alone
//   [data-passkey-second-factor]  second step after the password
(function () {
  "use strict";

  function fromB64url(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    var bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    (list || []).forEach(function (c) { c.id = fromB64url(c.id); });
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    withIds(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    withIds(pk.allowCredentials);
    return { publicKey: pk };
  }

  function registration(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(r.attestationObject),
        clientDataJSON: toB64url(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) throw new Error(data.error_description || "The server answered " + resp.status + ".");
        return data;
      });
    });
  }

  function report(message) {
    var el = document.getElementById("passkey-error");
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
  }

  function failure(err) {
    // The member closed the dialog or it timed out: say so plainly.
    if (err && err.name === "NotAllowedError") {
      report("The passkey request was cancelled or timed out.");
    } else {
      report((err && err.message) || "The passkey did not work.");
    }
  }

  function bind(selector, run) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (button) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        report("This browser cannot use passkeys.");
        return;
      }
      button.addEventListener("click", function () {
        var errors = document.getElementById("passkey-error");
        if (errors) errors.hidden = true;
        button.disabled = true;
        run(button.dataset).catch(failure).then(function () { button.disabled = false; });
      });
    });
  }

  // Add a passkey, then show the security page again (it lists it).
  bind("[data-passkey-register]", function (d) {
    var nameInput = document.getElementById("passkey-name");
    var name = nameInput ? nameInput.value : "";
    return post(d.start, d.csrf).then(function (started) {
      return navigator.credentials.create(creationOptions(started.options)).then(function (cred) {
        return post(d.finish, d.csrf, { ceremony: started.ceremony, name: name, credential: registration(cred) });
      });
    }).then(function () { window.location.assign(d.done); });
  });

  // Sign in (alone, or as the second step): the server answers where to go.
  function signIn(d) {
    return post(d.start, d.csrf).then(function (started) {
      return navigator.credentials.get(requestOptions(started.options)).then(function (cred) {
        return post(d.finish, d.csrf, { ceremony: started.ceremony, next: d.next, credential: assertion(cred) });
      });
    }).then(function (done) { window.location.assign(done.redirect); });
  }
  bind("[data-passkey-sign-in]", signIn);
  bind("[data-passkey-second-factor]", signIn);
})();
