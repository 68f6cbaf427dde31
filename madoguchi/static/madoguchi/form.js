// Progressive enhancement only: the form works without this file.
// Fills the address from the postal code when the address is still empty.
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input[data-postal-for]");
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-postal-for"));
      var digits = input.value.normalize("NFKC").replace(/[^0-9]/g, "");
      if (!target || target.value || digits.length !== 7) return;
      fetch("/api/v1/postal-codes/" + digits, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && data.address && !target.value) target.value = data.address;
        })
        .catch(function () { /* the resident types the address */ });
    });
  });
  // A file over the field's limit is refused at once, before a long upload ends in an error page.
  var files = document.querySelectorAll("input[type=file][data-max-bytes]");
  Array.prototype.forEach.call(files, function (input) {
    input.addEventListener("change", function () {
      var old = document.getElementById(input.id + "-too-large");
      if (old) old.parentNode.removeChild(old);
      var file = input.files && input.files[0];
      if (!file || file.size <= Number(input.getAttribute("data-max-bytes"))) return;
      var message = document.createElement("p");
      message.id = input.id + "-too-large";
      message.className = "error-text";
      message.setAttribute("role", "alert");
      message.textContent = input.getAttribute("data-too-large");
      input.parentNode.insertBefore(message, input);
      input.value = "";
    });
  });
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
