// The annotator loop: show one item, hold ONE lease ahead, submit or skip from the keyboard.
// Answers are sent in the background (in order, retried with the same idempotency key), so moving to the
// next item never waits on the network; any answer that could not be saved is reported, never dropped silently.
"use strict";

(function () {
  const TL = window.Truthline;
  const cfg = JSON.parse(document.getElementById("workspace-config").textContent);
  const $ = function (id) { return document.getElementById(id); };
  const root = $("workspace");
  const itemEl = $("item");
  const errorsEl = $("errors");
  const statusEl = $("status");
  const widget = TL.widgets[cfg.widget]($("answer"), cfg.labels, cfg); // registered by widget-<name>.js
  const STALE_MARGIN_MS = 15000; // a prefetched lease this close to expiry is given back, not shown
  // A new item takes Submit/Skip only after this long: the second half of a double click or a double
  // Enter lands ~3 ms after the next item appears, and must not answer an item nobody has seen.
  const SETTLE_MS = 300;

  // ---- session counters (per browser tab, per project) -------------------------------------------
  const storeKey = "truthline:session:" + cfg.project_id;
  const stats = Object.assign({ count: 0, skipped: 0 }, JSON.parse(sessionStorage.getItem(storeKey) || "{}"));
  function paintStats() {
    $("count").textContent = String(stats.count);
    $("skipped").textContent = String(stats.skipped);
    $("pending").textContent = String(outbox.length + (sending ? 1 : 0));
    sessionStorage.setItem(storeKey, JSON.stringify(stats));
  }

  // ---- active time: ms while the page is visible AND focused, minus idle stretches ------------------
  // A person who walks away from a visible, focused tab stops counting IDLE_MS after their last key or
  // pointer input (active time feeds pay and hourly-rate floors, so it must not inflate).
  const IDLE_MS = 60000;
  const clock = { total: 0, since: null, lastInput: performance.now() };
  function running() { return document.visibilityState === "visible" && document.hasFocus(); }
  function tick() {
    const now = performance.now();
    if (clock.since !== null) clock.total += Math.max(0, Math.min(now, clock.lastInput + IDLE_MS) - clock.since);
    clock.since = running() ? now : null;
  }
  function onInput() { tick(); clock.lastInput = performance.now(); }
  function resetClock() { clock.total = 0; clock.lastInput = performance.now(); clock.since = running() ? clock.lastInput : null; }
  function readClock() { tick(); return Math.round(clock.total); }
  // Coming back to the tab counts as activity; leaving it stops the clock.
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") onInput(); else tick(); });
  window.addEventListener("focus", onInput);
  window.addEventListener("blur", tick);
  ["keydown", "pointerdown", "pointermove", "wheel"].forEach(function (type) {
    window.addEventListener(type, onInput, { capture: true, passive: true });
  });

  // crypto.randomUUID needs a secure context; plain-http LAN deployments get the same from getRandomValues.
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---- errors and status -------------------------------------------------------------------------
  function showError(message, retry) {
    const box = document.createElement("div");
    box.className = "alert error";
    const text = document.createElement("span");
    text.textContent = message;
    box.append(text);
    if (message.indexOf("log in again") >= 0) {
      const a = document.createElement("a");
      a.href = "/login?next=" + encodeURIComponent(location.pathname);
      a.textContent = "Log in";
      box.append(" ", a);
    }
    if (retry) box.append(" ", button("Retry", function () { box.remove(); retry(); }));
    box.append(" ", button("Dismiss", function () { box.remove(); }));
    errorsEl.append(box);
  }
  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "button small";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }
  // What a refused request means, in the annotator's words rather than the API's.
  function plain(err) {
    const m = err.message;
    if (err.status === 409 && / is paused/.test(m)) return "the project is paused; its manager can resume it.";
    if (err.status === 409 && / is archived/.test(m)) return "the project has been archived and takes no more answers.";
    if (err.status === 409 && /expired/.test(m)) return "the item was open longer than the time allowed for one item, so it went back to the pool.";
    if (err.status === 409 && /already submitted/.test(m)) return "the item was already answered (perhaps in another tab).";
    if (err.status === 409 && /skipped/.test(m)) return "the item was already skipped.";
    if (err.status === 404 && err.field === "lease_id") return "the item is no longer assigned to you.";
    if (err.status === 403 && /no longer a member/.test(m)) return "you are no longer a member of this project; ask its manager.";
    if (err.status === 403 && err.field === "lease_id") return "the item is assigned to someone else: are you logged in as another person in another tab? Reload the page.";
    if (err.status === 422 && err.field === "answer") return "it " + m + "."; // e.g. outside a range changed meanwhile
    return m;
  }
  function paused(err) { return err.status === 409 && / is paused/.test(err.message); }
  function say(text) { statusEl.textContent = text; } // what happened to saved answers
  function hint(text) { $("hint").textContent = text; } // what to do on the current item

  // ---- leases ------------------------------------------------------------------------------------
  // The page holds at most two leases: the item on screen and one ahead. It tells the server which it
  // holds, so `next` resumes any other live lease (after a reload) or claims a new one. Fetching waits
  // until earlier answers have landed, so the server never sees more than those two live leases.
  async function fetchTask(alsoHeld) {
    await idle();
    const held = (current ? [current.lease_id] : []).concat(alsoHeld || []);
    const r = await TL.api("POST", "/projects/" + cfg.project_id + "/next", { held: held });
    if (!r.data) return null;
    const t = r.data;
    if (held.indexOf(t.lease_id) >= 0) return { duplicate: true }; // a server that ignores `held`
    // Lease deadline on this page's own clock: robust to a skewed client clock. expires_in is exact; the
    // Date header, the fallback for an older server, has whole seconds.
    const expires = typeof t.expires_at === "number" ? t.expires_at : Date.parse(t.expires_at) / 1000;
    t.length = (typeof t.expires_in === "number" ? t.expires_in : expires - r.serverNow) * 1000;
    t.deadline = performance.now() + t.length;
    return t;
  }
  // Too close to expiry to show: under STALE_MARGIN_MS left, or a quarter of a short lease already gone
  // (a project with 10 s leases must not find every lease stale).
  function stale(t) { return t.deadline - performance.now() < Math.min(STALE_MARGIN_MS, 0.75 * t.length); }
  function settle(promise) {
    return promise.then(function (task) { return { task: task }; }, function (error) { return { error: error }; });
  }
  let ahead = null; // Promise<{task}|{error}> for the lease held one ahead
  let aheadTask = null; // the same lease once it has arrived (to release it when the page closes)
  function prefetch() {
    ahead = settle(fetchTask().then(function (t) {
      if (t && t.item) { (widget.preload || TL.preload)(t.item); aheadTask = t; }
      return t;
    }));
  }
  async function takeNext() {
    let r = await (ahead || settle(fetchTask()));
    ahead = null;
    aheadTask = null;
    if (r.error) throw r.error;
    const t = r.task;
    if (!t || t.duplicate || stale(t)) {
      // Nothing was left when we prefetched (items may have come back since), no prefetch was possible,
      // or the lease is about to lapse: ask now. A stale lease is given back and listed as held, or the
      // server would resume that very lease and the answer would arrive after it expired.
      const old = t && t.lease_id ? [t.lease_id] : [];
      if (old.length) await giveBack(t.lease_id);
      r = await settle(fetchTask(old));
      if (r.error) throw r.error;
    }
    return r.task && !r.task.duplicate ? r.task : null;
  }

  // Give a lease back and wait for it (unlike TL.release at page close). A failure is harmless: the
  // lease is listed as held on the next ask anyway, and expires on its own.
  function giveBack(leaseId) {
    return TL.api("POST", "/leases/" + leaseId + "/release").catch(function () { return null; });
  }

  // ---- showing items -----------------------------------------------------------------------------
  let current = null;
  let moving = false;
  let moved = Promise.resolve(); // the latest moveOn, for a tab handing its work over
  let settleTimer = 0;
  // States: loading, showing (item visible, settling), ready (takes Submit/Skip), done, error, elsewhere.
  function setState(state) { root.dataset.state = state; }
  function accepting() { return root.dataset.state === "ready"; }
  function display(task) {
    current = task;
    current.key = uuid(); // one idempotency key per item shown: a retried submit can never count twice
    // A widget that lays the item out itself (pairwise: its two candidates side by side) renders it.
    if (widget.render) widget.render(itemEl, task.item); else TL.renderItem(itemEl, task.item);
    $("item-ref").textContent = "Item " + task.item.external_id;
    $("stage-title").textContent = "Label this item";
    $("task").hidden = false; // before reset: a widget may focus its box, and a hidden box takes no focus
    $("done").hidden = true;
    widget.reset();
    hint("");
    resetClock();
    setState("showing");
    clearTimeout(settleTimer);
    settleTimer = setTimeout(function () { if (current === task) setState("ready"); }, SETTLE_MS);
  }
  function moveOn() { moved = advance(); return moved; }
  async function advance() {
    if (!owner) return; // e.g. a Retry clicked after this tab stepped aside
    moving = true;
    current = null;
    setState("loading");
    let task;
    try {
      task = await takeNext();
    } catch (err) {
      moving = false;
      if (!owner) return;
      setState("error");
      showError("Could not load the next item: " + plain(err), moveOn);
      return;
    }
    moving = false;
    if (!owner) return; // handed over meanwhile: the other tab resumes this lease
    if (!task) {
      $("task").hidden = true;
      $("done").hidden = false;
      $("item-ref").textContent = "";
      setState("done");
      $("stage-title").textContent = "All done";
      say("Nothing left to label in this project.");
      return;
    }
    display(task);
    prefetch();
  }

  // ---- the outbox: submits and skips, sent in order, retried when safe ----------------------------
  const outbox = [];
  let sending = false;
  const DELAYS = [500, 1000, 2000, 4000, 8000];
  function enqueue(job) { outbox.push(job); paintStats(); if (!sending) drain(); }
  const idleWaiters = [];
  function idle() {
    return outbox.length || sending ? new Promise(function (ok) { idleWaiters.push(ok); }) : Promise.resolve();
  }
  async function drain() {
    sending = true;
    while (outbox.length) {
      const job = outbox.shift();
      paintStats();
      await send(job);
    }
    sending = false;
    paintStats();
    idleWaiters.splice(0).forEach(function (ok) { ok(); });
  }
  async function send(job) {
    for (let attempt = 0; ; attempt++) {
      try {
        await TL.api("POST", "/leases/" + job.lease_id + "/" + job.kind, job.body);
        if (job.kind === "submit") stats.count += 1; else stats.skipped += 1;
        say((job.kind === "submit" ? "Saved item " : "Skipped item ") + job.ref + ".");
        return;
      } catch (err) {
        if (err.retryable && attempt < DELAYS.length) {
          say("Saving item " + job.ref + " failed; retrying…");
          await new Promise(function (ok) { setTimeout(ok, DELAYS[attempt]); });
          continue;
        }
        say("Item " + job.ref + " was not saved; see the message above.");
        showError(unsaved(job, err), err.retryable || paused(err) ? function () { enqueue(job); } : null);
        return;
      }
    }
  }

  function unsaved(job, err) {
    const what = (job.kind === "submit" ? "Your answer for item " : "Skipping item ") + job.ref;
    if (paused(err)) return what + " is kept here: the project is paused. Press Retry once its manager resumes it.";
    if (err.status === 409 && /expired/.test(err.message)) {
      return what + " could not be saved: it was open longer than the time allowed for one item, so it went back to the pool. Carry on with the item shown.";
    }
    return what + " was not saved: " + plain(err);
  }

  // ---- actions -----------------------------------------------------------------------------------
  function submit() {
    if (!accepting()) return;
    const answer = widget.answer();
    if (answer === undefined) { hint(widget.missing); return; }
    const body = { answer: answer, active_ms: readClock(), idempotency_key: current.key };
    enqueue({ kind: "submit", lease_id: current.lease_id, body: body, ref: current.item.external_id });
    moveOn();
  }
  function skip() {
    if (!accepting()) return;
    enqueue({ kind: "skip", lease_id: current.lease_id, body: undefined, ref: current.item.external_id });
    moveOn();
  }

  $("submit").addEventListener("click", submit);
  $("skip").addEventListener("click", skip);
  $("check-again").addEventListener("click", function () { ahead = null; moveOn(); });
  // A mouse click leaves focus on what was clicked; on Skip or the guidelines' summary, Enter would then
  // skip or fold instead of submitting. Keyboard activation (detail 0) keeps its focus.
  document.querySelectorAll("#skip, summary").forEach(function (el) {
    el.addEventListener("click", function (e) { if (e.detail) el.blur(); });
  });

  // Keys typed in the widget's own box (numeric's number) type there: digits pick no label. Enter submits
  // (once per press, as elsewhere), Esc leaves the box so the shortcuts act again, and S skips from an empty
  // box only (an S with a number typed would drop it: the hint says how).
  function fieldKey(e) {
    const field = widget.field;
    if (e.key === "Enter") {
      e.preventDefault();
      if (!e.repeat) submit();
    } else if (e.key === "Escape") {
      e.preventDefault();
      field.blur();
    } else if (e.key === "s" || e.key === "S") {
      e.preventDefault();
      if (e.repeat) return;
      if (field.value === "" && !field.validity.badInput) skip();
      else if (accepting()) hint("To skip this item, clear the box (or press Esc), then press S.");
    }
  }
  if (widget.field) widget.field.addEventListener("input", function () { hint(""); });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    if (widget.field && t === widget.field) { fieldKey(e); return; }
    if (t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
    // A focused <summary> keeps Enter and Space (they fold the guidelines); every other key is a shortcut.
    if (t.closest && t.closest("summary") && (e.key === "Enter" || e.key === " ")) return;
    const onOtherButton = t.tagName === "BUTTON" && !t.classList.contains("label-button");
    if (e.key === "Enter") {
      if (onOtherButton || e.repeat) return; // Enter on Skip/Retry/Log out keeps its native meaning
      e.preventDefault();
      submit();
    } else if (e.key === "s" || e.key === "S") {
      if (e.repeat) return;
      e.preventDefault();
      skip();
    } else if (current && widget.key(e.key)) {
      e.preventDefault();
      hint("");
    }
  });

  window.addEventListener("beforeunload", function (e) {
    if (outbox.length || sending) { e.preventDefault(); e.returnValue = ""; }
  });
  // Leaving: hand back the unanswered item and the prefetched one so others get them now, not at lease expiry.
  window.addEventListener("pagehide", function () {
    [current, aheadTask].forEach(function (t) { if (t && t.lease_id) TL.release(t.lease_id); });
    current = aheadTask = null;
  });
  // Back/forward cache restored a page whose leases were released: start afresh.
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });

  // The key legend names this project's real keys (e.g. 0…9 for digit labels).
  const keys = TL.shortcutKeys(cfg.labels).filter(function (k) { return k !== null; });
  const legend = $("keys-labels").querySelectorAll("kbd");
  if (keys.length && legend.length === 2) { legend[0].textContent = keys[0]; legend[1].textContent = keys[keys.length - 1]; }

  // ---- keeping the item on screen ----------------------------------------------------------------
  // A hard item can take longer than its lease. While the page is in view, the item on screen gets its
  // lease renewed shortly before it lapses, at most MAX_RENEWALS times: a page left open and forgotten
  // holds an item for (MAX_RENEWALS + 1) lease lengths, no longer.
  const MAX_RENEWALS = 3;
  const RENEW_CHECK_MS = 1000;
  async function keepLease() {
    const t = current;
    if (!t || !owner || document.visibilityState !== "visible" || (t.renewals || 0) >= MAX_RENEWALS) return;
    const left = t.deadline - performance.now();
    if (left <= 0 || left > Math.max(Math.min(60000, 0.25 * t.length), 2 * RENEW_CHECK_MS)) return;
    t.renewals = (t.renewals || 0) + 1;
    try {
      const r = await TL.api("POST", "/leases/" + t.lease_id + "/renew");
      t.length = r.data.expires_in * 1000;
      t.deadline = performance.now() + t.length;
    } catch (err) { /* expired or paused meanwhile: the answer's own message will say so */ }
  }
  setInterval(keepLease, RENEW_CHECK_MS);

  // ---- one working tab per project ---------------------------------------------------------------
  // The server resumes a user's live leases, so two tabs of one project would show the same items in
  // lockstep and answer the same leases. The oldest tab works; a newer one says so and waits until the
  // annotator chooses it, when the other tab steps aside and its leases resume here.
  const PROBE_MS = 200; // how long a tab listens for an older one
  const HANDOVER_MS = 10000; // longest wait for the other tab's answers in flight to land
  const tabs = window.BroadcastChannel ? new BroadcastChannel("truthline:workspace:" + cfg.project_id) : null;
  const tabId = performance.timeOrigin + Math.random(); // older tabs have lower ids
  const waiters = {}; // message type -> resolve(true)
  let owner = false;
  function waitFor(type, ms) {
    return new Promise(function (ok) {
      waiters[type] = ok;
      setTimeout(function () { if (waiters[type] === ok) delete waiters[type]; ok(false); }, ms);
    });
  }
  function post(type) { tabs.postMessage({ type: type, from: tabId }); }
  function onTabMessage(e) {
    const m = e.data || {};
    // Two tabs opened at once both listen: the older one answers, so exactly one works.
    if (m.type === "hello" && (owner || (waiters.here && tabId < m.from))) post("here");
    if (m.type === "take" && owner) { post("ack"); stepAside().then(function () { post("gone"); }); }
    const ok = waiters[m.type];
    if (ok) { delete waiters[m.type]; ok(true); }
  }
  function showElsewhere() {
    clearTimeout(settleTimer);
    current = null;
    $("task").hidden = true;
    $("done").hidden = true;
    $("elsewhere").hidden = false;
    $("item-ref").textContent = "";
    $("stage-title").textContent = "Open in another tab";
    setState("elsewhere");
  }
  // Stop taking work; once answers already given have landed, leave the leases (unreleased) to the other tab.
  async function stepAside() {
    owner = false;
    showElsewhere();
    await moved;
    await idle();
    if (ahead) await ahead;
    current = aheadTask = ahead = null;
  }
  function start() {
    owner = true;
    $("elsewhere").hidden = true;
    moveOn();
  }
  async function takeOver() {
    $("work-here").disabled = true;
    const acked = waitFor("ack", PROBE_MS);
    const gone = waitFor("gone", HANDOVER_MS);
    post("take");
    if (await acked) await gone; // no answer: the other tab has closed
    $("work-here").disabled = false;
    start();
  }
  $("work-here").addEventListener("click", takeOver);

  paintStats();
  if (!tabs) {
    start();
  } else {
    tabs.addEventListener("message", onTabMessage);
    const found = waitFor("here", PROBE_MS);
    post("hello");
    found.then(function (elsewhere) { if (elsewhere) showElsewhere(); else start(); });
  }
})();
