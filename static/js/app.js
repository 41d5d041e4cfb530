// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Store tablet: keep the scanner field focused so a USB/Bluetooth scanner always types into it.
  function refocusScanner() {
    var scan = document.getElementById("scan");
    if (scan && (document.activeElement === document.body || document.activeElement === null)) {
      scan.focus();
    }
  }
  document.addEventListener("htmx:afterSwap", refocusScanner);
  document.addEventListener("DOMContentLoaded", refocusScanner);
})();
