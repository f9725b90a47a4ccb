// Workspace widget for `pairwise`: two candidates side by side (A and B: two models' answers to one prompt, two
// summaries, two images) and the annotator picks the better one, or "tie" where the project allows ties.
// Interface: see widget-classification.js, plus two optional hooks workspace.js uses when a widget has them:
//   render(itemEl, item): show the item (here: the shared context on top, then the candidates side by side);
//   preload(item): warm the cache with the item's images.
// Keys: 1 = A, 2 = B, 3 = tie (only when the project's labels include "tie"); Enter submits, as elsewhere.
// Item data is user data: every text goes in as a text node, every image as an <img> attribute, never as HTML.
// What produced each side (a_id, b_id) never reaches this page: the server leaves it out of the task's data.
"use strict";

Truthline.widgets.pairwise = function (container, labels) {
  const SIDES = [
    { label: "a", name: "A", text: "a", image: "a_image_url" },
    { label: "b", name: "B", text: "b", image: "b_image_url" },
  ];
  const PAIR_KEYS = new Set(["a", "b", "a_image_url", "b_image_url"]);
  const choices = [
    { label: "a", key: "1", text: "A is better" },
    { label: "b", key: "2", text: "B is better" },
    { label: "tie", key: "3", text: "Tie" },
  ].filter(function (c) { return labels.indexOf(c.label) >= 0; });
  let chosen = null; // "a", "b", "tie" or null
  let panels = {}; // label -> the candidate's panel on screen, marked when chosen

  container.replaceChildren();
  const buttons = choices.map(function (c) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "label-button";
    b.dataset.label = c.label;
    b.setAttribute("aria-pressed", "false");
    b.setAttribute("aria-keyshortcuts", c.key);
    const k = document.createElement("kbd");
    k.textContent = c.key;
    b.append(k, " ", c.text);
    b.addEventListener("click", function () { select(c.label); });
    container.append(b);
    return b;
  });

  function select(label) {
    chosen = label;
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.label === label)); });
    Object.keys(panels).forEach(function (side) {
      const on = label === side || label === "tie";
      panels[side].classList.toggle("chosen", on);
    });
  }

  function imageSource(src) {
    return typeof src === "string" && /^(data:image\/|https?:\/\/|\/)/i.test(src) ? src : null;
  }

  function image(src, alt) {
    const img = document.createElement("img");
    img.className = "item-image";
    img.alt = alt;
    img.decoding = "sync";
    img.addEventListener("load", function () {
      if (img.naturalWidth <= 64 && img.naturalHeight <= 64) img.classList.add("pixelated");
    });
    img.addEventListener("error", function () {
      const p = document.createElement("p");
      p.className = "alert error image-failed";
      p.textContent = "The image failed to load. Reload the page to try again, or skip this item (S).";
      img.replaceWith(p);
    });
    img.src = src;
    return img;
  }

  function candidate(data, side, ref) {
    const panel = document.createElement("section");
    panel.className = "candidate";
    panel.dataset.side = side.label;
    panel.setAttribute("aria-label", "Candidate " + side.name);
    const head = document.createElement("h2");
    head.className = "candidate-name";
    head.textContent = side.name;
    panel.append(head);
    const src = imageSource(data[side.image]);
    if (src) panel.append(image(src, "Candidate " + side.name + " of item " + ref));
    const text = data[side.text];
    if (typeof text === "string") {
      const p = document.createElement("p");
      p.className = "item-text candidate-text";
      p.dir = "auto";
      p.textContent = text;
      panel.append(p);
    }
    if (!src && typeof text !== "string") {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "This candidate is empty.";
      panel.append(p);
    }
    return panel;
  }

  return {
    missing: "Choose the better candidate first (1 for A, 2 for B" + (labels.indexOf("tie") >= 0 ? ", 3 for a tie" : "") + ").",
    render: function (itemEl, item) {
      const data = item.data || {};
      itemEl.replaceChildren();
      // The shared context (the prompt's text, an image, any other field) as every item shows it.
      const context = {};
      Object.keys(data).forEach(function (k) { if (!PAIR_KEYS.has(k)) context[k] = data[k]; });
      if (Object.keys(context).length) {
        const box = document.createElement("div");
        box.className = "pair-context";
        Truthline.renderItem(box, { external_id: item.external_id, data: context });
        itemEl.append(box);
      }
      const pair = document.createElement("div");
      pair.className = "pair";
      panels = {};
      SIDES.forEach(function (side) {
        panels[side.label] = candidate(data, side, item.external_id);
        pair.append(panels[side.label]);
      });
      itemEl.append(pair);
      select(chosen);
    },
    preload: function (item) {
      Truthline.preload(item);
      const data = (item && item.data) || {};
      SIDES.forEach(function (side) {
        const src = imageSource(data[side.image]);
        if (src) new Image().src = src;
      });
    },
    reset: function () { select(null); },
    key: function (k) {
      const c = choices.find(function (x) { return x.key === k; });
      if (!c) return false;
      select(c.label);
      return true;
    },
    answer: function () { return chosen === null ? undefined : chosen; },
  };
};
