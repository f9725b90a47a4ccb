// Workspace widget for `numeric`: one number typed into a box (a count, a length, a price). Interface: see
// widget-classification.js. config.range {min?, max?} bounds the answer as the server does, so a value it
// would refuse is caught here, before the page moves on to the next item.
// `field` is the box: workspace.js leaves the keys typed there to it, except Enter, Esc and S on an empty box.
"use strict";

Truthline.widgets.numeric = function (container, labels, config) {
  const MAX = 1e15; // the server's bound on any answer (truthline.tasktypes.numeric.MAX_MAGNITUDE)
  const range = (config && config.range) || {};
  const low = typeof range.min === "number" ? range.min : null;
  const high = typeof range.max === "number" ? range.max : null;
  const bounds = low !== null && high !== null ? "from " + low + " to " + high
    : low !== null ? "at least " + low : high !== null ? "at most " + high : "";

  const input = document.createElement("input");
  input.type = "number";
  input.id = "number-answer";
  input.step = "any"; // any decimal is valid: the browser must not round or flag 2.5 on a whole-number step
  input.inputMode = "decimal";
  input.autocomplete = "off";
  if (low !== null) input.min = String(low);
  if (high !== null) input.max = String(high);
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.className = "number-label";
  label.textContent = "Your answer";
  container.replaceChildren(label, input);
  if (bounds) {
    const note = document.createElement("span");
    note.id = "number-range";
    note.className = "muted";
    note.textContent = "A number " + bounds;
    input.setAttribute("aria-describedby", note.id);
    container.append(note);
  }
  input.addEventListener("input", function () { input.removeAttribute("aria-invalid"); });

  // Why the box's content cannot be sent ("" when it can).
  function problem() {
    if (input.validity.badInput) return "That is not a number: type digits, e.g. 12 or 3.5.";
    if (input.value.trim() === "") return "Type a number, then press Enter.";
    const x = input.valueAsNumber;
    if (!Number.isFinite(x) || Math.abs(x) > MAX) return "Type a number from -1e15 to 1e15.";
    if ((low !== null && x < low) || (high !== null && x > high)) {
      return "Type a number " + bounds + " (the project's range); " + input.value + " is outside it.";
    }
    return "";
  }

  const widget = {
    missing: "Type a number, then press Enter.",
    field: input,
    reset: function () {
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.focus({ preventScroll: true }); // each new item: the annotator types straight away
    },
    // A digit, sign or point typed while the box is not focused (after Esc or a click elsewhere) moves focus
    // into it; returning false lets the browser type that very key there.
    key: function (k) {
      if (/^[0-9.,+-]$/.test(k) && document.activeElement !== input) input.focus({ preventScroll: true });
      return false;
    },
    answer: function () {
      widget.missing = problem();
      if (widget.missing) {
        input.setAttribute("aria-invalid", "true");
        return undefined;
      }
      return input.valueAsNumber;
    },
  };
  return widget;
};
