/* eBookVoice: the little JavaScript the pages use. No framework and no build step.
   Each feature starts from a data attribute in the page, and every page works without it:
   forms post normally, and the pages that poll also render their state on the server. */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function csrfToken() {
    const input = $("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* A play/pause button holds both icons and shows one. The icons are <svg> elements, and
     SVGElement has no `hidden` property (only HTMLElement does): assigning it sets a plain
     JavaScript field and changes nothing on screen, so the attribute itself is toggled. */
  function showIcon(button, playing) {
    const play = $("[data-icon-play]", button), pause = $("[data-icon-pause]", button);
    if (play) play.toggleAttribute("hidden", playing);
    if (pause) pause.toggleAttribute("hidden", !playing);
  }

  function formatTime(seconds) {
    if (!isFinite(seconds) || seconds < 0) seconds = 0;
    const s = Math.floor(seconds % 60), m = Math.floor(seconds / 60) % 60, h = Math.floor(seconds / 3600);
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function formatBytes(size) {
    const units = [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]];
    for (const [unit, scale] of units) if (size >= scale) return (size / scale).toFixed(size / scale >= 10 ? 0 : 1) + " " + unit;
    return size + " bytes";
  }

  function setProgress(bar, percent) {
    const value = Math.max(0, Math.min(100, Math.round(percent)));
    bar.setAttribute("aria-valuenow", String(value));
    const fill = $(".progress__bar", bar);
    if (fill) fill.style.width = value + "%";
  }

  /* The server writes a bar's percent as aria-valuenow only: the Content-Security-Policy allows no
     style="" attribute, and styles set from this script are allowed. */
  function paintProgress(root) {
    $$(".progress[aria-valuenow]", root).forEach((bar) => setProgress(bar, Number(bar.getAttribute("aria-valuenow"))));
  }

  /* Poll ``fn`` every ``seconds`` until it returns false; a failed request waits twice as long. */
  function poll(seconds, fn) {
    let delay = seconds * 1000;
    const tick = async () => {
      let again = true;
      try {
        again = await fn();
        delay = seconds * 1000;
      } catch (error) {
        delay = Math.min(delay * 2, 60000);
      }
      if (again !== false) window.setTimeout(tick, delay);
    };
    window.setTimeout(tick, delay);
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  /* --- New audiobook: drag and drop, upload with a progress bar ------------------------------ */
  function initUpload(form) {
    const input = $("input[type=file]", form);
    const box = $("[data-upload-progress]", form);
    const bar = $("[role=progressbar]", box);
    const status = $("[data-upload-status]", form);
    const percentText = $("[data-upload-percent]", form);
    const errorBox = $("[data-upload-error]", form);
    const limit = Number(form.dataset.limitBytes || 0);
    let busy = false;

    const showError = (message) => {
      errorBox.textContent = message;
      errorBox.hidden = false;
      box.hidden = true;
      busy = false;
      input.value = "";
    };

    const send = (file) => {
      if (busy || !file) return;
      errorBox.hidden = true;
      if (limit && file.size > limit) {
        showError("This file is " + formatBytes(file.size) + "; you can upload up to " + formatBytes(limit) + " now.");
        return;
      }
      busy = true;
      box.hidden = false;
      $("[data-upload-name]", form).textContent = file.name;
      status.textContent = "Uploading…";
      setProgress(bar, 0);
      const data = new FormData();
      data.append("csrfmiddlewaretoken", csrfToken());
      data.append("file", file, file.name);
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", csrfToken());
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = (event.loaded / event.total) * 100;
        setProgress(bar, percent);
        percentText.textContent = Math.round(percent) + "%";
        if (percent >= 100) status.textContent = "Checking the file…";
      });
      request.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
        if (request.status === 201 && body && body.book) {
          status.textContent = "Uploaded. Opening your book…";
          window.location.assign(form.dataset.nextTemplate.replace("00000000-0000-0000-0000-000000000000", body.book));
          return;
        }
        const message = body && body.error ? body.error.message : "The upload failed. Please try again.";
        showError(message);
      });
      request.addEventListener("error", () => showError("The connection was lost during the upload. Please try again."));
      request.send(data);
    };

    input.addEventListener("change", () => send(input.files[0]));
    ["dragenter", "dragover"].forEach((name) => form.addEventListener(name, (event) => {
      event.preventDefault();
      form.classList.add("is-dragging");
    }));
    ["dragleave", "dragend", "drop"].forEach((name) => form.addEventListener(name, (event) => {
      event.preventDefault();
      if (name !== "dragleave" || !form.contains(event.relatedTarget)) form.classList.remove("is-dragging");
    }));
    form.addEventListener("drop", (event) => {
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) send(file);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(input.files[0]);
    });
  }

  /* --- While a book is read: wait, then show the picker ----------------------------------------- */
  function initWaitForBook(card) {
    poll(Number(card.dataset.pollSeconds || 2), async () => {
      const status = await getJSON(card.dataset.waitForBook);
      if (status.book.status === "uploaded" || status.book.status === "ingesting") return true;
      window.location.reload();
      return false;
    });
  }

  /* --- Chapters, voice, speed, quote, Convert -------------------------------------------------- */
  function initConvert(form) {
    const boxes = $$("[data-chapter]", form);
    const count = $("[data-chapter-count]", form);
    const button = $("[data-convert-button]", form);
    const warning = $("[data-language-warning]", form);
    const previewStatus = $("[data-preview-status]", form);
    let quoteRequest = 0;
    let timer = null;

    const checkedVoice = () => $("[data-voice]:checked", form);

    const refreshQuote = async () => {
      const number = ++quoteRequest;
      const params = new URLSearchParams();
      boxes.filter((box) => box.checked).forEach((box) => params.append("chapter", box.value));
      const voice = checkedVoice();
      if (voice) params.set("voice", voice.value);
      const speed = $("#speed", form);
      if (speed) params.set("speed", speed.value);
      try {
        const quote = await getJSON(form.dataset.quoteUrl + "?" + params.toString());
        if (number !== quoteRequest) return;
        $("[data-quote-characters]", form).textContent = quote.characters.toLocaleString("en-US");
        $("[data-quote-audio]", form).textContent = quote.audio;
        $("[data-quote-credits]", form).textContent = quote.credits;
        $("[data-quote-credits-noun]", form).textContent = quote.credits_noun;
        $("[data-quote-balance]", form).textContent = quote.balance;
        $("[data-quote-balance-noun]", form).textContent = quote.balance_noun;
        $("[data-quote-balance-audio]", form).textContent = quote.balance_audio;
        $("[data-quote-shortfall]", form).textContent = quote.shortfall;
        $("[data-quote-shortfall-noun]", form).textContent = quote.shortfall_noun;
        $("[data-quote-short]", form).hidden = quote.affordable;
        updateTopUp(quote.shortfall_hundredths);
        button.disabled = !quote.affordable || quote.characters === 0 || !voice;
      } catch (error) {
        button.disabled = false; // the server checks again on submit
      }
    };

    /* A divided chapter's box ticks all its parts; it shows whether all, some or none are ticked. */
    const groups = $$("[data-chapter-group]", form).map((head) => ({
      head,
      parts: $$("[data-chapter]", document.getElementById(head.getAttribute("aria-controls"))),
    }));
    const showGroups = () => groups.forEach(({ head, parts }) => {
      const ticked = parts.filter((box) => box.checked).length;
      head.checked = ticked === parts.length;
      head.indeterminate = ticked > 0 && ticked < parts.length;
    });

    const changed = () => {
      showGroups();
      const chosen = boxes.filter((box) => box.checked).length;
      count.textContent = chosen;
      if (chosen === 0) button.disabled = true;
      window.clearTimeout(timer);
      timer = window.setTimeout(refreshQuote, 200);
    };

    const showWarning = () => {
      const voice = checkedVoice();
      const text = voice ? voice.dataset.warning : "";
      warning.textContent = text;
      warning.hidden = !text;
    };

    boxes.forEach((box) => box.addEventListener("change", changed));
    groups.forEach(({ head, parts }) => head.addEventListener("change", () => {
      parts.forEach((box) => { box.checked = head.checked; });
      changed();
    }));
    showGroups();
    $$("[data-voice]", form).forEach((radio) => radio.addEventListener("change", () => { showWarning(); changed(); }));
    const speedSelect = $("#speed", form);
    if (speedSelect) speedSelect.addEventListener("change", changed);
    $$("[data-select]", form).forEach((tool) => tool.addEventListener("click", () => {
      boxes.forEach((box) => { box.checked = tool.dataset.select === "all"; });
      changed();
    }));

    /* ▶ previews: one shared audio element; a preview still being made answers 202 with a message. */
    const preview = new Audio();
    let playing = null;
    const stop = () => {
      preview.pause();
      if (playing) {
        playing.setAttribute("aria-pressed", "false");
        showIcon(playing, false);
      }
      playing = null;
    };
    preview.addEventListener("ended", stop);
    preview.addEventListener("error", async () => {
      const source = playing;
      stop();
      if (!source) return;
      try {
        const response = await fetch(source.dataset.previewUrl, { headers: { Accept: "application/json" } });
        const body = await response.json();
        previewStatus.textContent = body.error ? body.error.message : "This sample can’t be played right now.";
      } catch (error) {
        previewStatus.textContent = "This sample can’t be played right now. Please try again in a moment.";
      }
    });
    $$("[data-preview-url]", form).forEach((play) => play.addEventListener("click", () => {
      if (playing === play) { stop(); return; }
      stop();
      previewStatus.textContent = "";
      playing = play;
      play.setAttribute("aria-pressed", "true");
      showIcon(play, true);
      preview.src = play.dataset.previewUrl;
      preview.play().catch(() => {});
    }));

    form.addEventListener("submit", () => {
      stop();
      // The idempotency key makes a second submission harmless; this just says it is on its way.
      window.setTimeout(() => { button.disabled = true; button.textContent = "Starting…"; }, 0);
    });
    const error = $("#convert-error");
    if (error) error.focus();
  }

  /* --- Library: redraw the grid while books are read or converted ------------------------------ */
  function initLibrary(container) {
    const active = () => {
      const grid = container.firstElementChild;
      return grid && grid.dataset.polling === "true";
    };
    if (!active()) return;
    poll(Number(container.dataset.pollSeconds || 3), async () => {
      const response = await fetch(container.dataset.pollUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      container.innerHTML = await response.text();
      paintProgress(container);
      return active();
    });
  }

  /* The parts of a page marked data-live, taken from a fresh copy of it: what only the server knows
     how to draw (the total time, every file with its size, "Convert again") without a reload, and
     without touching the rest (the player keeps playing). */
  async function refreshLiveParts() {
    const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    $$("[data-live]").forEach((part) => {
      const replacement = $("[data-live=\"" + part.dataset.live + "\"]", fresh);
      if (replacement) part.replaceWith(document.importNode(replacement, true));
    });
    paintProgress(document);
  }

  /* --- Book page: progress, and the chapter-aware player ----------------------------------------- */
  function initBookPage(page) {
    const player = initPlayer($("[data-player]", page), page);
    const card = $("[data-progress-card]", page);
    if (page.dataset.active !== "true") return;
    poll(Number(page.dataset.pollSeconds || 3), async () => {
      const status = await getJSON(page.dataset.statusUrl);
      const conversion = status.conversion || {};
      const bar = $("[data-progress]", page);
      setProgress(bar, conversion.percent || 0);
      $("[data-progress-text]", page).textContent =
        Math.round(conversion.percent || 0) + "% · " + (conversion.chapters_ready || 0) + " of " +
        (conversion.chapters_total || 0) + " chapters ready";
      $("[data-progress-eta]", page).textContent = conversion.eta || "";
      player.update(status.chapters);
      if ((status.chapters || []).some((chapter) => chapter.ready)) {
        $("[data-mp3-link]", page).hidden = false;
        $("[data-readalong-link]", page).hidden = false;
      }
      const badge = $("[data-state-badge]");
      if (badge) {
        badge.textContent = status.state_label;
        badge.className = "badge badge-" + status.state;
      }
      if (status.active) return true;
      card.hidden = true;
      $("[data-m4b-link]", page).hidden = !status.m4b_ready;
      $("[data-m4b-pending]", page).hidden = status.m4b_ready;
      const acx = $("[data-acx-link]", page);
      if (acx) acx.hidden = !status.m4b_ready;
      if (status.state === "failed") {
        $("[data-failed-message]", page).textContent = conversion.error_message || "";
        $("[data-failed]", page).hidden = false;
      }
      // A failed fetch throws, and the poll tries again after a longer wait.
      await refreshLiveParts();
      return false;
    });
  }

  function initPlayer(root, page) {
    const audio = $("[data-audio]", root);
    const track = $("[data-track]", root);
    const play = $("[data-play]", root);
    const seek = $("[data-seek]", root);
    const rate = $("[data-rate]", root);
    const captions = $("[data-captions]", root);
    const captionsToggle = $("[data-captions-toggle]", root);
    const controls = [play, seek, $("[data-back]", root), $("[data-forward]", root)];
    const buttons = () => $$("[data-track-button]", page);
    let current = null; // the chapter number loaded
    let seeking = false;
    let lastSaved = 0;
    let retries = 0;

    const buttonFor = (number) => buttons().find((button) => Number(button.dataset.number) === number);
    const readyNumbers = () => buttons().filter((button) => button.dataset.src).map((button) => Number(button.dataset.number));

    const showPlaying = () => {
      const paused = audio.paused;
      showIcon(play, !paused);
      play.setAttribute("aria-label", paused ? "Play" : "Pause");
    };

    const updateNav = () => {
      const ready = readyNumbers();
      $("[data-prev]", root).disabled = current === null || !ready.some((number) => number < current);
      $("[data-next]", root).disabled = current === null || !ready.some((number) => number > current);
    };

    const savePosition = (beacon) => {
      if (current === null) return;
      const data = new FormData();
      data.append("csrfmiddlewaretoken", csrfToken());
      data.append("chapter", String(current));
      data.append("seconds", String(Math.floor(audio.currentTime || 0)));
      lastSaved = Date.now();
      if (beacon && navigator.sendBeacon) {
        navigator.sendBeacon(root.dataset.positionUrl, data);
      } else {
        fetch(root.dataset.positionUrl, { method: "POST", body: data, credentials: "same-origin" }).catch(() => {});
      }
    };

    const load = (number, startAt, autoplay) => {
      const button = buttonFor(number);
      if (!button || !button.dataset.src) return;
      current = number;
      retries = 0;
      buttons().forEach((other) => other.removeAttribute("aria-current"));
      button.setAttribute("aria-current", "true");
      $("[data-now-title]", root).textContent = number + ". " + button.dataset.title;
      captions.textContent = "";
      track.src = button.dataset.captions || "";
      audio.src = button.dataset.src;
      audio.playbackRate = Number(rate.value);
      controls.forEach((control) => { control.disabled = false; });
      $("[data-bookmark-add]", root).disabled = false;
      updateNav();
      showSession();
      const start = () => {
        if (startAt) audio.currentTime = startAt;
        if (autoplay) audio.play().catch(() => {});
      };
      audio.addEventListener("loadedmetadata", start, { once: true });
      audio.load();
    };

    const togglePlay = () => {
      if (current === null) return;
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    };
    const skipBy = (seconds) => {
      if (current === null) return;
      audio.currentTime = Math.max(0, Math.min(audio.duration || 0, audio.currentTime + seconds));
    };
    const previousChapter = () => {
      const earlier = readyNumbers().filter((number) => number < current);
      if (earlier.length) load(earlier[earlier.length - 1], 0, true);
    };
    const nextChapter = () => {
      const later = readyNumbers().filter((number) => number > current);
      if (later.length) load(later[0], 0, true);
    };
    play.addEventListener("click", togglePlay);
    $("[data-back]", root).addEventListener("click", () => skipBy(-15));
    $("[data-forward]", root).addEventListener("click", () => skipBy(15));
    $("[data-prev]", root).addEventListener("click", previousChapter);
    $("[data-next]", root).addEventListener("click", nextChapter);

    /* Lock screen, headphones and the system's media keys: the Media Session API, where the browser
       has it. The system shows the chapter, the book and its cover, and its buttons act as ours do. */
    const session = "mediaSession" in navigator ? navigator.mediaSession : null;
    const showSession = () => {
      if (!session || current === null || typeof MediaMetadata === "undefined") return;
      const cover = root.dataset.coverUrl;
      session.metadata = new MediaMetadata({
        title: buttonFor(current).dataset.title,
        artist: root.dataset.bookAuthors || "",
        album: root.dataset.bookTitle || "",
        artwork: cover ? [{ src: new URL(cover, window.location.href).href }] : [],
      });
    };
    const showSessionPosition = () => {
      if (!session || !session.setPositionState) return;
      const duration = audio.duration;
      if (!isFinite(duration) || duration <= 0) return;
      try {
        session.setPositionState({
          duration, playbackRate: audio.playbackRate, position: Math.min(audio.currentTime, duration),
        });
      } catch (error) { /* a position the browser will not take: it keeps the last one */ }
    };
    if (session) {
      const handlers = {
        play: () => { if (current !== null) audio.play().catch(() => {}); },
        pause: () => audio.pause(),
        seekbackward: (details) => skipBy(-(details.seekOffset || 15)),
        seekforward: (details) => skipBy(details.seekOffset || 15),
        seekto: (details) => {
          if (current === null || !isFinite(details.seekTime)) return;
          if (details.fastSeek && audio.fastSeek) audio.fastSeek(details.seekTime);
          else audio.currentTime = details.seekTime;
        },
        previoustrack: previousChapter,
        nexttrack: nextChapter,
      };
      Object.entries(handlers).forEach(([action, handler]) => {
        try { session.setActionHandler(action, handler); } catch (error) { /* an action this browser lacks */ }
      });
      ["loadedmetadata", "ratechange", "seeked", "play", "pause"].forEach((name) => audio.addEventListener(name, showSessionPosition));
      audio.addEventListener("play", () => { session.playbackState = "playing"; });
      audio.addEventListener("pause", () => { session.playbackState = "paused"; });
    }

    /* Keyboard: space plays and pauses, ← and → go back and forward 15 s, [ and ] change the speed.
       Not while typing, and not where the key already means something: space on a focused button or
       link presses it, and arrows move a slider or a list's choice. */
    const stepRate = (step) => {
      const index = rate.selectedIndex + step;
      if (index < 0 || index >= rate.options.length) return;
      rate.selectedIndex = index;
      rate.dispatchEvent(new Event("change"));
    };
    document.addEventListener("keydown", (event) => {
      if (current === null || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target instanceof Element ? event.target : null;
      if (target && target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])")) return;
      const onControl = target && target.closest("button, a, summary");
      const actions = {
        " ": onControl ? null : togglePlay,
        ArrowLeft: () => skipBy(-15),
        ArrowRight: () => skipBy(15),
        "[": () => stepRate(-1),
        "]": () => stepRate(1),
      };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      if (!(event.repeat && event.key === " ")) action(); // a held space toggles once
    });
    page.addEventListener("click", (event) => {
      const button = event.target.closest("[data-track-button]");
      if (button && !button.disabled) load(Number(button.dataset.number), 0, true);
    });

    seek.addEventListener("input", () => { seeking = true; $("[data-time-current]", root).textContent = formatTime(Number(seek.value)); });
    seek.addEventListener("change", () => { audio.currentTime = Number(seek.value); seeking = false; });
    rate.addEventListener("change", () => {
      audio.playbackRate = Number(rate.value);
      try { window.localStorage.setItem("ebv-rate", rate.value); } catch (error) { /* private mode */ }
    });
    try {
      const saved = window.localStorage.getItem("ebv-rate");
      if (saved && $$("option", rate).some((option) => option.value === saved)) rate.value = saved;
    } catch (error) { /* private mode */ }

    audio.addEventListener("play", showPlaying);
    audio.addEventListener("pause", () => { showPlaying(); savePosition(false); });
    audio.addEventListener("loadedmetadata", () => {
      seek.max = String(Math.floor(audio.duration || 0));
      $("[data-time-total]", root).textContent = formatTime(audio.duration);
      audio.playbackRate = Number(rate.value);
      if (audio.textTracks[0]) audio.textTracks[0].mode = "hidden";
    });
    audio.addEventListener("timeupdate", () => {
      if (!seeking) {
        seek.value = String(Math.floor(audio.currentTime));
        $("[data-time-current]", root).textContent = formatTime(audio.currentTime);
      }
      if (!audio.paused && Date.now() - lastSaved > 10000) savePosition(false);
    });
    /* Sleep timer: minutes of playing (paused time does not count), or the end of this chapter. */
    const sleep = $("[data-sleep]", root);
    const sleepLeft = $("[data-sleep-left]", root);
    let sleepRemaining = null, sleepAtEnd = false, sleepTick = null, sleepLast = 0;
    const clearSleep = (message) => {
      sleepRemaining = null;
      sleepAtEnd = false;
      if (sleepTick) window.clearInterval(sleepTick);
      sleepTick = null;
      sleepLeft.textContent = message || "";
    };
    const sleepNow = () => {
      audio.pause();
      sleep.value = "";
      clearSleep("The sleep timer stopped playback.");
    };
    sleep.addEventListener("change", () => {
      clearSleep();
      if (sleep.value === "chapter") {
        sleepAtEnd = true;
        sleepLeft.textContent = "Stops at the end of this chapter.";
        return;
      }
      const seconds = Number(sleep.value);
      if (!seconds) return;
      sleepRemaining = seconds;
      sleepLast = Date.now();
      sleepLeft.textContent = formatTime(sleepRemaining) + " left";
      sleepTick = window.setInterval(() => {
        const now = Date.now();
        if (!audio.paused) sleepRemaining -= (now - sleepLast) / 1000;
        sleepLast = now;
        if (sleepRemaining <= 0) sleepNow();
        else sleepLeft.textContent = formatTime(Math.ceil(sleepRemaining)) + " left";
      }, 250);
    });

    audio.addEventListener("ended", () => {
      if (sleepAtEnd) { sleepNow(); return; }
      const later = readyNumbers().filter((number) => number > current);
      if (later.length) load(later[0], 0, true);
    });

    /* Bookmarks: add one at the current place with an optional note; each jumps back to its place. */
    const bookmarkForm = $("[data-bookmark-form]", root);
    const bookmarkList = $("[data-bookmarks]", root);
    const bookmarkStatus = $("[data-bookmark-status]", root);
    const bookmarksEmpty = $("[data-bookmarks-empty]", root);
    const bookmarkItem = (bookmark) => {
      const item = document.createElement("li");
      item.dataset.bookmark = bookmark.id;
      const jump = document.createElement("button");
      jump.type = "button";
      jump.className = "bookmark-jump";
      jump.dataset.bookmarkJump = "";
      jump.dataset.chapter = String(bookmark.chapter);
      jump.dataset.seconds = String(bookmark.seconds);
      jump.textContent = "Chapter " + bookmark.chapter + " · " + bookmark.at;
      if (bookmark.note) {
        const note = document.createElement("span");
        note.className = "bookmark-note";
        note.textContent = bookmark.note;
        jump.append(" — ", note);
      }
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-ghost btn-small";
      remove.dataset.bookmarkDelete = bookmarkList.dataset.deleteTemplate.replace("00000000-0000-0000-0000-000000000000", bookmark.id);
      remove.setAttribute("aria-label", "Delete the bookmark at chapter " + bookmark.chapter + ", " + bookmark.at);
      remove.textContent = "Delete";
      item.append(jump, " ", remove);
      return item;
    };
    const placeInList = (item) => {
      const key = (element) => [Number(element.firstChild.dataset.chapter), Number(element.firstChild.dataset.seconds)];
      const [chapter, seconds] = key(item);
      const after = $$("li", bookmarkList).find((other) => {
        const [c, s] = key(other);
        return c > chapter || (c === chapter && s > seconds);
      });
      bookmarkList.insertBefore(item, after || null);
      bookmarksEmpty.hidden = true;
    };
    bookmarkForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (current === null) return;
      bookmarkForm.elements.chapter.value = String(current);
      bookmarkForm.elements.seconds.value = String(Math.floor(audio.currentTime * 10) / 10);
      bookmarkStatus.textContent = "";
      try {
        const response = await fetch(bookmarkForm.action, {
          method: "POST", body: new FormData(bookmarkForm), credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const body = await response.json();
        if (!response.ok) { bookmarkStatus.textContent = body.error ? body.error.message : "The bookmark could not be saved."; return; }
        placeInList(bookmarkItem(body.bookmark));
        bookmarkForm.elements.note.value = "";
        bookmarkStatus.textContent = "Bookmarked chapter " + body.bookmark.chapter + " at " + body.bookmark.at + ".";
      } catch (error) {
        bookmarkStatus.textContent = "The bookmark could not be saved. Please try again.";
      }
    });
    bookmarkList.addEventListener("click", async (event) => {
      const jump = event.target.closest("[data-bookmark-jump]");
      if (jump) {
        const chapter = Number(jump.dataset.chapter), seconds = Number(jump.dataset.seconds);
        if (chapter === current && audio.readyState > 0) { audio.currentTime = seconds; audio.play().catch(() => {}); }
        else load(chapter, seconds, true);
        return;
      }
      const remove = event.target.closest("[data-bookmark-delete]");
      if (!remove) return;
      const response = await fetch(remove.dataset.bookmarkDelete, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
      });
      if (response.ok) {
        remove.closest("li").remove();
        bookmarksEmpty.hidden = $$("li", bookmarkList).length > 0;
      }
    });
    audio.addEventListener("error", () => {
      // A link expires after some minutes: ask for a fresh one and carry on from the same second.
      if (current === null || retries >= 2) return;
      retries += 1;
      const at = audio.currentTime;
      const wasPlaying = !audio.paused;
      const button = buttonFor(current);
      audio.src = button.dataset.src + (button.dataset.src.includes("?") ? "&" : "?") + "retry=" + Date.now();
      audio.addEventListener("loadedmetadata", () => { audio.currentTime = at; if (wasPlaying) audio.play().catch(() => {}); }, { once: true });
    });
    const showCue = () => {
      const cues = audio.textTracks[0] && audio.textTracks[0].activeCues;
      captions.textContent = cues && cues.length ? cues[cues.length - 1].text : "";
    };
    if (audio.textTracks[0]) {
      audio.textTracks[0].mode = "hidden";
      audio.textTracks[0].addEventListener("cuechange", showCue);
    }
    track.addEventListener("load", () => { if (audio.textTracks[0]) audio.textTracks[0].mode = "hidden"; });
    captionsToggle.addEventListener("change", () => { captions.hidden = !captionsToggle.checked; });
    window.addEventListener("pagehide", () => { if (!audio.paused) savePosition(true); });

    const update = (chapters) => {
      (chapters || []).forEach((chapter) => {
        const button = buttonFor(chapter.number);
        if (!button) return;
        const meta = $("[data-track-meta]", button);
        if (chapter.ready && !button.dataset.src) {
          button.dataset.src = chapter.audio_url;
          button.dataset.captions = chapter.captions_url || "";
          button.disabled = false;
          meta.textContent = chapter.duration;
        } else if (!chapter.ready) {
          meta.innerHTML = '<span class="spinner" aria-hidden="true"></span>';
          meta.append(document.createTextNode(chapter.status_label));
        }
      });
      if (current === null && readyNumbers().length) load(readyNumbers()[0], 0, false);
      updateNav();
    };

    // Start where this reader left off, or at the first chapter that is ready.
    const saved = JSON.parse(($("#player-position") || {}).textContent || "null");
    if (saved && saved.chapter && readyNumbers().includes(saved.chapter)) load(saved.chapter, saved.seconds || 0, false);
    else if (readyNumbers().length) load(readyNumbers()[0], 0, false);
    return { update };
  }

  /* --- Back from Stripe Checkout: wait for the webhook, then show the new balance ---------------- */
  function initBillingWait(card) {
    const state = $("[data-billing-state]", card);
    const note = $("[data-billing-note]", card);
    const balance = $("[data-billing-balance]", card);
    const returnsElsewhere = card.dataset.next && card.dataset.next !== "/credits/";
    poll(2, async () => {
      const status = await getJSON(card.dataset.statusUrl);
      balance.textContent = status.balance;
      if (!status.completed) return true;
      state.textContent = status.plan === "Premium" ? "You are on the premium plan" : "Your credits are here";
      if (note) note.textContent = "Added. Your balance is " + status.balance + " credits.";
      // Back to the conversion the reader was choosing, as the quote screen's "Buy" promised.
      if (returnsElsewhere) window.setTimeout(() => { window.location.assign(status.next); }, 1500);
      return false;
    });
  }

  /* --- The quote screen's "Buy N more credits": the smallest pack that covers the shortfall ------ */
  function updateTopUp(shortfallHundredths) {
    const topUp = document.getElementById("top-up");
    const listing = document.getElementById("top-up-packs");
    if (!topUp || !listing) return;
    const packs = JSON.parse(listing.textContent || "[]");
    const pack = packs.find((p) => p.hundredths >= shortfallHundredths) || packs[packs.length - 1];
    if (!pack) return;
    $("input[name=pack]", topUp).value = pack.key;
    $$("[data-top-up-credits]").forEach((node) => { node.textContent = String(pack.credits); });
  }

  /* Lexicon page: "Listen" posts the row (the word, and any fix typed) and plays the answer. */
  function initLexicon(row) {
    const status = $("[data-listen-status]");
    const button = $("[data-listen]", row);
    if (!button) return;
    const audio = new Audio();
    audio.addEventListener("ended", () => button.setAttribute("aria-pressed", "false"));
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      audio.pause();
      if (status) status.textContent = "Listening…";
      button.setAttribute("aria-pressed", "true");
      const data = new FormData(row);
      data.delete("action");
      try {
        const response = await fetch(button.getAttribute("formaction"), {
          method: "POST", body: data, headers: { Accept: "audio/mpeg, application/json", "X-CSRFToken": csrfToken() },
        });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error(body.error ? body.error.message : "This word can’t be played right now.");
        }
        audio.src = URL.createObjectURL(await response.blob());
        await audio.play();
        if (status) status.textContent = "";
      } catch (error) {
        button.setAttribute("aria-pressed", "false");
        if (status) status.textContent = error.message;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    paintProgress(document);
    $$("[data-upload]").forEach(initUpload);
    $$("[data-wait-for-book]").forEach(initWaitForBook);
    $$("[data-convert-form]").forEach(initConvert);
    $$("[data-poll-url]").forEach(initLibrary);
    // The library's sort applies when chosen; without this script the form's button does it.
    $$(".library-tools select").forEach((select) => select.addEventListener("change", () => select.form.requestSubmit()));
    $$("[data-book-page]").forEach(initBookPage);
    $$("[data-billing-wait]").forEach(initBillingWait);
    $$("[data-lexicon-row]").forEach(initLexicon);
  });
})();
