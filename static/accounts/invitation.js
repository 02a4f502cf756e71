// Puts the invitation code from the link's fragment into the form. The fragment is never
// sent to the server, so the code stays out of access logs and Referer headers (S11);
// opening the invitation is the form's POST (S10). The fragment is then removed from the
// address bar and history.
(function () {
  "use strict";
  var field = document.getElementById("id_token");
  var token = window.location.hash.slice(1);
  if (!field || !token) {
    return;
  }
  if (!field.value) {
    try {
      field.value = decodeURIComponent(token);
    } catch (e) {
      field.value = token;
    }
  }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
})();
