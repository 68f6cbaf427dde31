/* On every page: after a form comes back with errors, focus moves to its error summary, so a screen reader
   reads what is wrong and a keyboard user's next Tab reaches the first link to a field (デジタル庁デザインシステム,
   エラーサマリー; JIS X 8341-3 / WCAG 3.3.1). The summary is announced without this too (role="alert"). */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary && !document.querySelector("[autofocus]")) summary.focus();
})();
