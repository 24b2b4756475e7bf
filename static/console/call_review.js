/* The call review page: the player (buttons, speed, keys), the transcript following the audio, find-in-transcript,
   and corrections saved in place (the page and the audio stay where they are). Plain script, no inline code: the
   page must work under a Content-Security-Policy without unsafe-inline. */
(function () {
  "use strict";

  var STEP_SECONDS = 5;
  var root = document.getElementById("dlx-review");
  if (!root) return;
  var audio = document.getElementById("dlx-audio");
  var current = null; // the turn marked as playing
  // The page's words in the user's language: a <script type="application/json"> block the template writes
  // (json_script, data only), with each plural message per CLDR category (Intl.PluralRules picks one).
  var stringsNode = document.getElementById("dlx-strings");
  var strings = stringsNode ? JSON.parse(stringsNode.textContent) : {};
  var plurals = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang || "en") : null;

  function say(key, fallback, values) {
    var text = strings[key] || fallback;
    Object.keys(values || {}).forEach(function (name) { text = text.split("%(" + name + ")s").join(values[name]); });
    return text;
  }

  function sayCount(key, count, one, other) {
    var forms = strings[key] || {};
    var category = plurals ? plurals.select(count) : (count === 1 ? "one" : "other");
    var text = forms[category] || forms.other || (count === 1 ? one : other);
    return text.split("%(count)s").join(String(count));
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function turns() {
    return Array.prototype.slice.call(document.querySelectorAll("#dlx-turns .dlx-turn"));
  }

  function play() {
    var started = audio.play();
    // play() is refused while the browser still loads, or cut short by a pause(): nothing to tell the reviewer.
    if (started && started.catch) started.catch(function () {});
  }

  function seek(seconds) {
    var end = isFinite(audio.duration) ? audio.duration : Infinity;
    audio.currentTime = Math.min(Math.max(0, seconds), end);
  }

  function playFrom(seconds) {
    if (!audio) return;
    seek(seconds);
    play();
  }

  function scrollIntoPane(element) {
    var pane = document.getElementById("dlx-transcript-scroll");
    if (!pane || !element) return;
    var box = pane.getBoundingClientRect();
    var where = element.getBoundingClientRect();
    if (where.top < box.top || where.bottom > box.bottom) {
      pane.scrollTop += where.top - box.top - box.height / 3;
    }
  }

  function markPlaying(turn) {
    if (turn === current) return;
    if (current) current.classList.remove("playing");
    if (turn) {
      turn.classList.add("playing");
      scrollIntoPane(turn);
    }
    current = turn;
  }

  function follow() {
    var now = audio.currentTime;
    var position = document.getElementById("dlx-position");
    if (position) position.textContent = clock(now);
    var found = null;
    turns().forEach(function (turn) {
      if (parseFloat(turn.dataset.start) <= now + 0.1) found = turn; // the last turn that has begun
    });
    markPlaying(found);
  }

  if (audio) {
    var playButton = document.getElementById("dlx-play");
    var toggle = function () {
      if (audio.paused) play();
      else audio.pause();
    };
    playButton.addEventListener("click", toggle);
    audio.addEventListener("play", function () { playButton.textContent = playButton.dataset.pause || "Pause"; });
    audio.addEventListener("pause", function () { playButton.textContent = playButton.dataset.play || "Play"; });
    playButton.dataset.play = playButton.textContent;
    document.getElementById("dlx-back").addEventListener("click", function () {
      seek(audio.currentTime - STEP_SECONDS);
    });
    document.getElementById("dlx-forward").addEventListener("click", function () {
      seek(audio.currentTime + STEP_SECONDS);
    });
    document.getElementById("dlx-speed").addEventListener("change", function (event) {
      audio.playbackRate = parseFloat(event.target.value) || 1;
    });
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
    audio.addEventListener("loadedmetadata", function () {
      var length = document.getElementById("dlx-length");
      if (length && isFinite(audio.duration)) length.textContent = clock(audio.duration);
    });

    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
      var target = event.target;
      var typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
      if (typing) return;
      if (event.key === " " || event.key === "Spacebar") {
        if (target.closest && target.closest("button, a, summary")) return; // the browser presses it already
        event.preventDefault(); // not a page scroll
        toggle();
      } else if (event.key === "ArrowLeft") {
        event.preventDefault();
        seek(audio.currentTime - STEP_SECONDS);
      } else if (event.key === "ArrowRight") {
        event.preventDefault();
        seek(audio.currentTime + STEP_SECONDS);
      }
    });
  }

  // --- Find in transcript ----------------------------------------------------------------------------------------
  var find = document.getElementById("dlx-find");
  var hits = [];
  var hitIndex = -1;
  if (find) {
    var count = document.getElementById("dlx-find-count");
    find.addEventListener("input", function () {
      var query = find.value.trim().toLowerCase();
      hits = [];
      turns().forEach(function (turn) {
        var text = turn.querySelector(".text").textContent.toLowerCase();
        var hit = query !== "" && text.indexOf(query) !== -1;
        turn.classList.toggle("match", hit);
        if (hit) hits.push(turn);
      });
      hitIndex = hits.length ? 0 : -1;
      count.textContent = query === "" ? "" : sayCount("turns_found", hits.length, "%(count)s turn", "%(count)s turns");
      if (hits.length) scrollIntoPane(hits[0]);
    });
    find.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || !hits.length) return;
      event.preventDefault();
      hitIndex = (hitIndex + 1) % hits.length;
      scrollIntoPane(hits[hitIndex]);
    });
  }

  // --- Corrections in place ----------------------------------------------------------------------------------------
  var form = document.getElementById("dlx-correct");
  var home = document.getElementById("dlx-correct-home");

  function closeCorrection() {
    if (!form) return;
    var holder = form.closest(".dlx-correct-row");
    home.appendChild(form);
    if (holder) holder.remove();
  }

  function openCorrection(button) {
    closeCorrection();
    var row = button.closest("tr");
    form.reset(); // no answer preselected, not even the current one
    form.action = button.dataset.url;
    form.querySelector(".dlx-correct-what").textContent = button.dataset.criterion;
    form.querySelector(".dlx-correct-error").textContent = "";
    var na = form.querySelector("option[value=na]");
    na.disabled = na.hidden = button.dataset.allowNa !== "1";
    var holder = document.createElement("tr");
    holder.className = "dlx-correct-row";
    var cell = document.createElement("td");
    cell.colSpan = row.children.length;
    cell.appendChild(form);
    holder.appendChild(cell);
    row.after(holder);
    form.querySelector("select").focus();
  }

  function refreshParts() {
    // The server renders the page again; only the header and the scorecard are replaced, so the audio plays on.
    return fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["dlx-head", "dlx-scorecards", "dlx-reasons"].forEach(function (id) {
          var mine = document.getElementById(id);
          var theirs = fresh.getElementById(id);
          if (mine && theirs) mine.innerHTML = theirs.innerHTML;
        });
      });
  }

  if (form) {
    var error = form.querySelector(".dlx-correct-error");
    var save = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save.disabled = true;
      var itemId = form.action.match(/items\/(\d+)\//);
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (answer) {
          if (!answer.ok) {
            error.textContent = (answer.data.error && answer.data.error.message) || say("not_saved", "Not saved.");
            return null;
          }
          closeCorrection();
          return refreshParts().then(function () {
            var status = document.getElementById("dlx-status");
            if (status) {
              status.textContent = say("saved", "Saved: %(answer)s. The score is recomputed.", {
                answer: answer.data.result.label,
              });
            }
            var row = itemId && document.getElementById("item-" + itemId[1]);
            if (row) row.scrollIntoView({ block: "nearest" });
          });
        })
        .catch(function () {
          error.textContent = say("no_answer", "Not saved: the server did not answer. Try again.");
        })
        .then(function () {
          save.disabled = false;
        });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var quote = target.closest(".dlx-seek");
    if (quote) {
      event.preventDefault();
      playFrom(parseFloat(quote.dataset.start));
      return;
    }
    var opener = target.closest(".dlx-correct-open");
    if (opener && form) {
      openCorrection(opener);
      return;
    }
    if (target.closest(".dlx-correct-cancel")) {
      closeCorrection();
      return;
    }
    var turn = target.closest(".dlx-turn");
    if (turn) {
      playFrom(parseFloat(turn.dataset.start));
      markPlaying(turn);
    }
  });
})();
