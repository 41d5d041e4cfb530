// The store tablet's enhancements (loaded by counter/base.html only); every page works without
// this file.
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

  // Store tablet: when a customer says "I'm here", show a banner, flash their ticket and (with
  // the sound switched on) play a chime. Tickets of arrived orders carry data-arrived-number;
  // the numbers already seen are kept for this tab, so coming back to the queue from an order
  // only cues the customers who arrived meanwhile. Browsers play sound only after a user
  // gesture, hence the "Sound on" switch, remembered on this device.
  var SOUND_KEY = "omnicollect.arrivalSound";
  var FLASH_MS = 60 * 1000;
  var SEEN_LIMIT = 200;

  function stored(storage, key) {
    try {
      return window[storage].getItem(key);
    } catch (e) {
      return null; // storage disabled: behave as a first visit
    }
  }

  function store(storage, key, value) {
    try {
      window[storage].setItem(key, value);
    } catch (e) {
      /* storage disabled: the tablet still cues, it just forgets */
    }
  }

  function arrivalCues() {
    var board = document.getElementById("board");
    var toggle = document.getElementById("sound-toggle");
    var banner = document.getElementById("arrival-banner");
    if (!board || !toggle || !banner) {
      return;
    }
    var body = document.body;
    var seenKey = "omnicollect.arrived." + toggle.dataset.store;
    var seen = null;
    try {
      seen = JSON.parse(stored("sessionStorage", seenKey) || "null");
    } catch (e) {
      seen = null;
    }
    var flashing = {}; // order number -> flash until (ms)
    var shown = []; // numbers in the banner until it is dismissed
    var audio = null;
    body.dataset.arrivalCues = "0";
    body.dataset.arrivalChimes = "0";

    function soundOn() {
      return stored("localStorage", SOUND_KEY) === "on";
    }

    function audioContext() {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) {
        return null;
      }
      if (!audio) {
        audio = new Context();
      }
      if (audio.state === "suspended") {
        audio.resume();
      }
      return audio;
    }

    function chime() {
      var context = audioContext();
      if (!context) {
        return;
      }
      var start = context.currentTime + 0.02;
      [880, 1318.5].forEach(function (frequency, i) {
        var tone = context.createOscillator();
        var gain = context.createGain();
        var at = start + i * 0.2;
        tone.type = "sine";
        tone.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.7);
        tone.connect(gain);
        gain.connect(context.destination);
        tone.start(at);
        tone.stop(at + 0.75);
      });
      body.dataset.arrivalChimes = String(Number(body.dataset.arrivalChimes) + 1);
    }

    function showSound() {
      var on = soundOn();
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.textContent = on ? toggle.dataset.on : toggle.dataset.off;
    }

    function refocus() {
      var scan = document.getElementById("scan");
      if (scan) {
        scan.focus();
      }
    }

    function showBanner() {
      banner.querySelector(".arrival-text").textContent = banner.dataset.text.replace(
        "%(numbers)s",
        shown.join(", ")
      );
      banner.hidden = shown.length === 0;
    }

    function flash() {
      var now = Date.now();
      board.querySelectorAll("[data-arrived-number]").forEach(function (ticket) {
        var until = flashing[ticket.dataset.arrivedNumber];
        ticket.classList.toggle("ticket-flash", Boolean(until && until > now));
      });
    }

    function look() {
      var current = [];
      board.querySelectorAll("[data-arrived-number]").forEach(function (ticket) {
        current.push(ticket.dataset.arrivedNumber);
      });
      var fresh = [];
      if (seen === null) {
        seen = current; // the first look in this tab is quiet: those tickets show their badge
      } else {
        fresh = current.filter(function (n) {
          return seen.indexOf(n) < 0;
        });
        seen = seen.concat(fresh).slice(-SEEN_LIMIT);
      }
      store("sessionStorage", seenKey, JSON.stringify(seen));
      if (fresh.length) {
        var until = Date.now() + FLASH_MS;
        fresh.forEach(function (n) {
          flashing[n] = until;
          if (shown.indexOf(n) < 0) {
            shown.push(n);
          }
        });
        showBanner();
        body.dataset.arrivalCues = String(Number(body.dataset.arrivalCues) + fresh.length);
        if (soundOn()) {
          chime();
        }
      }
      flash();
    }

    toggle.addEventListener("click", function () {
      var on = !soundOn();
      store("localStorage", SOUND_KEY, on ? "on" : "off");
      showSound();
      if (on) {
        chime(); // this click is the gesture that lets the page play sound; and a sample
      }
      refocus();
    });
    document.getElementById("arrival-dismiss").addEventListener("click", function () {
      shown = [];
      flashing = {};
      showBanner();
      flash();
      refocus();
    });
    // Sound switched on earlier on this device: the first touch or key press (a scan will do)
    // unlocks audio for this page.
    function unlock() {
      if (soundOn()) {
        audioContext();
      }
      document.removeEventListener("pointerdown", unlock, true);
      document.removeEventListener("keydown", unlock, true);
    }
    document.addEventListener("pointerdown", unlock, true);
    document.addEventListener("keydown", unlock, true);
    document.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === board) {
        look();
      }
    });
    showSound();
    look();
  }
  document.addEventListener("DOMContentLoaded", arrivalCues);
})();
