/* On every page: after a form comes back with errors, focus moves to its error summary (or, where an action
   was refused with a message at the top of the page, to that message), so a screen reader reads what is
   wrong and a keyboard user's next Tab reaches the first link to a field (デジタル庁デザインシステム,
   エラーサマリー; JIS X 8341-3 / WCAG 3.3.1). Both are announced without this too (role="alert"). */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary[tabindex], .messages [role=alert][tabindex]");
  if (summary && !document.querySelector("[autofocus]")) summary.focus();
})();
