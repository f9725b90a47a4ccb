// Truthline page helpers shared by the workspace and the task-type widgets (no build step, no dependencies).
// Widgets register themselves in Truthline.widgets[taskType]; see widget-classification.js for the interface.
"use strict";

window.Truthline = (function () {
  const csrfMeta = document.querySelector('meta[name="truthline-csrf"]');
  const CSRF = csrfMeta ? csrfMeta.content : "";

  class ApiError extends Error {
    // retryable: the request may not have reached the server (network) or the server failed (5xx);
    // sending it again with the same idempotency key is safe.
    // field: the request field the server named (kept apart from the message: annotators never need it).
    constructor(message, status, code, retryable, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryable = retryable;
      this.field = field || null;
    }
  }

  // Call the REST API with the session cookie and the CSRF header. Resolves to {data, status, serverNow}.
  async function api(method, path, body) {
    const headers = { "Accept": "application/json", "X-Truthline-CSRF": CSRF };
    const init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch("/api/v1" + path, init);
    } catch (err) {
      throw new ApiError("Could not reach the server (" + err.message + "). Check your connection.", 0, "network", true);
    }
    const dateHeader = response.headers.get("Date");
    const serverNow = dateHeader ? Date.parse(dateHeader) / 1000 : Date.now() / 1000;
    if (response.status === 204) return { data: null, status: 204, serverNow: serverNow };
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const e = (data && data.error) || {};
      const message = e.message || "The server answered " + response.status;
      if (response.status === 403 && e.field === "X-Truthline-CSRF") {
        throw new ApiError("This page's security token is out of date (did the server restart?): reload the page.", 403, e.code, false);
      }
      if (response.status === 401) {
        throw new ApiError("Your session has ended: log in again.", 401, "unauthorized", false);
      }
      throw new ApiError(message, response.status, e.code || "http_" + response.status, response.status >= 500, e.field);
    }
    return { data: data, status: response.status, serverNow: serverNow };
  }

  // Give a lease back while the page is closing. keepalive lets the request outlive the page; nobody is left
  // to show a failure to, and an unreleased lease simply expires on the server.
  function release(leaseId) {
    fetch("/api/v1/leases/" + leaseId + "/release", {
      method: "POST", keepalive: true, credentials: "same-origin", headers: { "X-Truthline-CSRF": CSRF },
    }).catch(function () { /* page is gone; the lease expires on its own */ });
  }

  // The key that picks each label: labels 1-9 get keys 1-9 and the tenth gets 0 (so a 1-10 scale's values
  // are their own keys). Where that would put a digit label under another digit's key (a 0-10 scale's 0 under
  // key 1, a 0-4 scale by halves' 1 under key 3), digit labels ("0".."9") are their own keys instead and the
  // others (10, 0.5) have none: an annotator typing 5 means 5. Keyless labels are reached with Tab/click.
  function shortcutKeys(labels) {
    const digit = /^[0-9]$/;
    const keys = labels.map(function (_, i) { return i < 9 ? String(i + 1) : (i === 9 ? "0" : null); });
    const misplaced = labels.some(function (l, i) { return digit.test(l) && keys[i] !== l; });
    if (!misplaced || new Set(labels).size !== labels.length) return keys;
    return labels.map(function (l) { return digit.test(l) ? l : null; });
  }

  // Label buttons for a widget: one <button> per label with its shortcut shown in a <kbd>.
  function labelButtons(container, labels, onPress) {
    const keys = shortcutKeys(labels);
    container.replaceChildren();
    const buttons = labels.map(function (label, i) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "label-button";
      b.dataset.label = label;
      b.setAttribute("aria-pressed", "false");
      if (keys[i] !== null) {
        const k = document.createElement("kbd");
        k.textContent = keys[i];
        b.append(k, " ");
        b.setAttribute("aria-keyshortcuts", keys[i]);
      }
      b.append(label);
      b.addEventListener("click", function () { onPress(i); });
      container.append(b);
      return b;
    });
    return {
      buttons: buttons,
      indexForKey: function (key) { return keys.indexOf(key); },
    };
  }

  function safeImageSource(src) {
    return typeof src === "string" && /^(data:image\/|https?:\/\/|\/)/i.test(src) ? src : null;
  }

  // Render an item's data: text, an image (URL or inline data: URL), other fields as a small table.
  // Everything goes in as text nodes or attributes, never as HTML.
  function renderItem(container, item) {
    const data = item.data || {};
    container.replaceChildren();
    const src = safeImageSource(data.image) || safeImageSource(data.image_url);
    if (src) {
      const img = document.createElement("img");
      img.className = "item-image";
      img.alt = data.alt || "Item " + item.external_id;
      img.decoding = "sync";
      // Tiny images (e.g. 8x8 digits) are scaled up with hard pixel edges instead of blur.
      img.addEventListener("load", function () {
        if (img.naturalWidth <= 64 && img.naturalHeight <= 64) img.classList.add("pixelated");
      });
      img.addEventListener("error", function () { img.replaceWith(brokenImage()); });
      img.src = src;
      container.append(img);
    }
    if (typeof data.text === "string") {
      const p = document.createElement("p");
      p.className = "item-text";
      p.dir = "auto"; // Arabic or Hebrew text reads right to left
      p.textContent = data.text;
      container.append(p);
    }
    const skip = new Set(["text", "image", "image_url", "alt"]);
    const rest = Object.keys(data).filter(function (k) { return !skip.has(k); });
    if (rest.length) {
      const dl = document.createElement("dl");
      dl.className = "item-fields";
      rest.forEach(function (k) {
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        const v = data[k];
        dd.dir = "auto";
        dd.textContent = typeof v === "string" ? v : JSON.stringify(v);
        dl.append(dt, dd);
      });
      container.append(dl);
    }
    if (!container.childElementCount) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "This item has no text or image.";
      container.append(p);
    }
  }

  // Shown in place of an image that did not load: a blank or alt text alone looks like the item itself.
  function brokenImage() {
    const p = document.createElement("p");
    p.className = "alert error image-failed";
    p.textContent = "The image failed to load. Reload the page to try again, or skip this item (S).";
    return p;
  }

  // Warm the browser cache so the prefetched item's image shows at once.
  function preload(item) {
    const data = (item && item.data) || {};
    const src = safeImageSource(data.image_url);
    if (src) new Image().src = src;
  }

  return { api: api, release: release, ApiError: ApiError, widgets: {}, shortcutKeys: shortcutKeys, labelButtons: labelButtons, renderItem: renderItem, preload: preload };
})();
