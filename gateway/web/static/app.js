/* Sistem48 staff UI behaviour. All script lives here: the Content-Security-Policy forbids inline JS. */
(function () {
  "use strict";

  /* --- SMS part count: mirrors sms/codec.py count_parts (GSM 03.38 basic + extension, UCS-2) --- */
  var GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXT = "\f^{}\\[~]|€";
  var FOLD = {"а":"a","б":"b","в":"v","г":"g","д":"d","ђ":"dj","е":"e","ж":"z","з":"z","и":"i",
    "ј":"j","к":"k","л":"l","љ":"lj","м":"m","н":"n","њ":"nj","о":"o","п":"p","р":"r","с":"s",
    "т":"t","ћ":"c","у":"u","ф":"f","х":"h","ц":"c","ч":"c","џ":"dz","ш":"s",
    "č":"c","ć":"c","ž":"z","š":"s","đ":"dj"};

  function isGsm(ch) { return GSM7_BASIC.indexOf(ch) >= 0 || GSM7_EXT.indexOf(ch) >= 0; }

  function prepare(text, policy) {
    text = text.normalize("NFC");
    if (policy !== "gsm7_latin") { return text; }
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (isGsm(ch)) { out += ch; continue; }
      var plain = FOLD[ch.toLowerCase()];
      if (plain === undefined) { out += ch; continue; }
      out += (ch !== ch.toLowerCase() && plain) ? plain.charAt(0).toUpperCase() + plain.slice(1) : plain;
    }
    return out;
  }

  function split(costs, single, multi) {
    var total = costs.reduce(function (a, b) { return a + b; }, 0);
    if (total <= single) { return 1; }
    var parts = 1, used = 0;
    costs.forEach(function (c) { if (used + c > multi) { parts += 1; used = 0; } used += c; });
    return parts;
  }

  function countParts(text, policy) {
    var prepared = prepare(text, policy);
    var chars = Array.from(prepared);
    if (chars.every(isGsm)) {
      var costs = chars.map(function (ch) { return GSM7_EXT.indexOf(ch) >= 0 ? 2 : 1; });
      return {parts: split(costs, 160, 153), encoding: "gsm7", units: costs.reduce(function (a, b) { return a + b; }, 0)};
    }
    var ucs = chars.map(function (ch) { return ch.codePointAt(0) > 0xFFFF ? 2 : 1; });
    return {parts: split(ucs, 70, 67), encoding: "ucs2", units: ucs.reduce(function (a, b) { return a + b; }, 0)};
  }
  window.sistem48CountParts = countParts;

  function wireSmsCounters(root) {
    root.querySelectorAll("textarea[data-sms-counter]").forEach(function (area) {
      var out = document.getElementById(area.dataset.smsCounter);
      if (!out) { return; }
      var update = function () {
        // The gateway wraps a reply ("Sistem48 (ref): …"): count what is really sent.
        var sent = (area.dataset.smsPrefix || "") + area.value + (area.dataset.smsSuffix || "");
        var c = countParts(sent, area.dataset.smsPolicy || "keep_script");
        out.textContent = c.parts + " (" + c.encoding + ", " + c.units + ")";
      };
      area.addEventListener("input", update);
      update();
    });
  }

  /* --- morning review: word → seek, keyboard shortcuts --- */
  function cards() { return Array.prototype.slice.call(document.querySelectorAll("#queue article.vm")); }
  function currentCard() {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest("article.vm") : null;
    return card || document.querySelector("#queue article.vm:not(.done)") || null;
  }
  function focusCard(card) { if (card) { card.focus(); card.scrollIntoView({block: "nearest"}); } }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("button.w[data-start]") : null;
    if (!btn) { return; }
    var card = btn.closest("article");
    var audio = card ? card.querySelector("audio") : null;
    if (!audio) { return; }
    audio.currentTime = parseFloat(btn.dataset.start);
    var played = audio.play();
    if (played && played.catch) { played.catch(function () {}); }
  });

  document.addEventListener("keydown", function (ev) {
    if (!document.getElementById("queue")) { return; }
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var card = currentCard();
    var list = cards();
    var i = card ? list.indexOf(card) : -1;
    var submit = function (sel) {
      var form = card && card.querySelector(sel);
      if (form) { ev.preventDefault(); form.requestSubmit(); }
    };
    if (ev.key === "j") { ev.preventDefault(); focusCard(list[Math.min(i + 1, list.length - 1)]); }
    else if (ev.key === "k") { ev.preventDefault(); focusCard(list[Math.max(i - 1, 0)]); }
    else if (ev.key === "v") { submit("form.validate"); }
    else if (ev.key === "d") { submit("form.discard"); }
    else if (ev.key === "c") { submit("form.callback"); }
    else if (ev.key === " " && tag !== "button") {
      var audio = card && card.querySelector("audio");
      if (audio) {
        ev.preventDefault();
        if (audio.paused) { var p = audio.play(); if (p && p.catch) { p.catch(function () {}); } } else { audio.pause(); }
      }
    }
  });

  document.addEventListener("htmx:afterSwap", function (ev) {
    var card = ev.detail && ev.detail.target;
    if (card && card.matches && card.matches("article.vm")) {
      var next = document.querySelector("#queue article.vm:not(.done)");
      focusCard(next);
    }
    wireSmsCounters(document);
  });

  /* --- new report: Ctrl+Enter saves from any field (an operator on a headset keeps typing) --- */
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || !(ev.ctrlKey || ev.metaKey)) { return; }
    var form = ev.target.closest ? ev.target.closest("form#new-report") : null;
    if (form) { ev.preventDefault(); form.requestSubmit(); }
  });

  /* --- map (only rendered when a tile server is configured) --- */
  function initMap() {
    var el = document.getElementById("map");
    if (!el || !window.L) { return; }
    var lat = parseFloat(el.dataset.lat), lon = parseFloat(el.dataset.lon);
    // Set on the class: otherwise Leaflet first probes its CSS's images/ path (a 404 here).
    window.L.Icon.Default.imagePath = "/static/";
    var map = window.L.map(el).setView([lat, lon], 16);
    window.L.tileLayer(el.dataset.tiles, {maxZoom: 19}).addTo(map);
    window.L.marker([lat, lon]).addTo(map);
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireSmsCounters(document);
    initMap();
    var first = document.querySelector("#queue article.vm");
    if (first) { first.focus(); }
  });
})();
