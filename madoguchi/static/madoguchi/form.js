// Progressive enhancement only: the form works without this file.
// 郵便番号 → 住所 (the same as the 「住所を検索」 button does on the server): a code that names one 町域 fills an
// empty address box; a code that names several shows them in a list and the resident chooses. Nothing is guessed.
(function () {
  "use strict";
  function prefixes(candidates) {
    var out = [];
    candidates.forEach(function (c) { out.push(c.address, c.prefecture + c.city); });
    return out.sort(function (a, b) { return b.length - a.length; });
  }
  function withTown(address, typed, candidates) {
    var rest = null;
    prefixes(candidates).some(function (p) {
      if (typed.indexOf(p) === 0) { rest = typed.slice(p.length); return true; }
      return false;
    });
    return address + (rest === null ? typed : rest);
  }
  function setUp(input) {
    var key = input.getAttribute("data-postal-field");
    var target = document.getElementById(input.getAttribute("data-postal-for"));
    var box = document.getElementById(key + "-towns");
    var select = document.getElementById(key + "__town");
    var lookup = document.querySelector("button[data-postal-lookup='" + key + "']");
    var pick = document.querySelector("button[data-postal-pick='" + key + "']");
    var found = [];
    function show(candidates, moveFocus) {
      found = candidates;
      if (candidates.length === 1) {
        if (box) box.hidden = true;
        if (!target.value) target.value = candidates[0].address;
        if (moveFocus) target.focus();
        return;
      }
      if (!box || !select) return;
      while (select.firstChild) select.removeChild(select.firstChild);
      var prompt = document.createElement("option");
      prompt.value = "";
      prompt.textContent = select.getAttribute("data-prompt") || "";
      select.appendChild(prompt);
      candidates.forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.address;
        option.textContent = (c.town || "（一覧にない町域）") + "\u3000" + c.address;
        select.appendChild(option);
      });
      var label = box.querySelector("label");
      if (label) label.textContent = label.textContent.replace(/[0-9]+/, String(candidates.length));
      box.hidden = false;
      if (moveFocus) select.focus();
    }
    function find(moveFocus) {
      var digits = input.value.normalize("NFKC").replace(/[^0-9]/g, "");
      if (digits.length !== 7) return Promise.resolve(false);
      return fetch("/api/v1/postal-codes/" + digits, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.candidates || !data.candidates.length) return false;
          show(data.candidates, moveFocus);
          return true;
        });
    }
    input.addEventListener("change", function () {
      find(false).catch(function () { /* the resident types the address, or presses 住所を検索 */ });
    });
    if (lookup) {
      lookup.addEventListener("click", function (event) {
        event.preventDefault();
        find(true).then(function (done) {
          // Not found, or no answer: the server says why next to the field.
          if (!done && input.form) input.form.requestSubmit ? input.form.requestSubmit(lookup) : lookup.form.submit();
        }).catch(function () { if (input.form && input.form.requestSubmit) input.form.requestSubmit(lookup); });
      });
    }
    if (pick && select) {
      pick.addEventListener("click", function (event) {
        if (!found.length) return; // the list came from the server: let the server fill it in
        event.preventDefault();
        var chosen = select.value;
        if (!chosen) return;
        target.value = withTown(chosen, target.value.trim(), found);
        box.hidden = true;
        target.focus();
      });
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-postal-field]"), setUp);
})();
(function () {
  "use strict";
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
})();
