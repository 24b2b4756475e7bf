/* Coaching notes on the call page (issue 12): "Current moment" writes the player's position (m:ss) into the note's
   moment. Plain script, no inline code (a Content-Security-Policy without unsafe-inline). */
(function () {
  "use strict";

  var button = document.getElementById("dlx-note-now");
  var field = document.getElementById("dlx-note-at");
  if (!button || !field) return;
  var audio = document.getElementById("dlx-audio");
  if (!audio) {
    button.hidden = true;
    return;
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  button.addEventListener("click", function () {
    field.value = clock(audio.currentTime);
    field.focus();
  });
})();
