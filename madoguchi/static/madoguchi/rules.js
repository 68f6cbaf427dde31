// Progressive enhancement only: shows and hides questions whose condition depends on an answer on the
// same page, as the server will decide when the page is sent (procedures/rules.py). Without this file
// every question is shown with a note saying when to answer it, and the server drops what does not apply.
(function () {
  "use strict";
  var form = document.getElementById("apply-form");
  if (!form) return;
  var dependents = form.querySelectorAll("[data-show-if]");
  if (!dependents.length) return;

  function answer(key) {
    var inputs = form.querySelectorAll("[name='" + key + "'], [name^='" + key + "__']");
    var values = [];
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) values.push(input.value);
      } else if (input.type !== "hidden" && input.value.trim() !== "") {
        values.push(input.value.trim());
      }
    });
    return values;
  }
  function number(text) {
    var n = Number(String(text).normalize("NFKC").replace(/[,\s]/g, ""));
    return isNaN(n) ? null : n;
  }
  function holds(c) {
    var values = answer(c.field);
    var expected = c.value;
    if (c.op === "empty") return values.length === 0;
    if (c.op === "not_empty") return values.length > 0;
    if (!values.length) return c.op === "not_equals";
    var text = values.join(" ");
    switch (c.op) {
      case "equals": return values.indexOf(expected) >= 0;
      case "not_equals": return values.indexOf(expected) < 0;
      case "one_of": return values.some(function (v) { return expected.indexOf(v) >= 0; });
      case "contains": return text.indexOf(expected) >= 0;
      default:
        var left = number(text), right = number(expected);
        if (left === null || right === null) return true; // dates and the like: the server decides
        return { gt: left > right, gte: left >= right, lt: left < right, lte: left <= right }[c.op];
    }
  }
  function update() {
    Array.prototype.forEach.call(dependents, function (element) {
      var conditions = JSON.parse(element.getAttribute("data-show-if"));
      var shown = conditions.every(holds);
      element.hidden = !shown;
      var note = element.querySelector(".condition");
      if (note) note.hidden = true; // the page itself now follows the condition
    });
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
