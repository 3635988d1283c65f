/* Starts Redoc on the API docs page without an inline script (Content-Security-Policy).
   The bundle itself puts its <script> tag's CSP nonce on the styles it writes (ebookvoice.api.docs). */
(function () {
  "use strict";
  const container = document.getElementById("redoc-container");
  window.Redoc.init(container.dataset.specUrl, {}, container);
})();
