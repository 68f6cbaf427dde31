// パスキー: once the browser has made one and the server has kept it, the page is opened again (a GET, not a
// resubmission of the form that offered the button), so the list shows it. The registration itself is
// django-otp-webauthn's script.
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function () {
    window.setTimeout(function () {
      // A query of its own: the same address with only a fragment would not load the page again.
      window.location.assign(window.location.pathname + "?passkey=added#passkeys");
    }, 600);
  });
})();
