// Workspace widget for `classification`: exactly one label. A task type's widget is one file like this:
//   Truthline.widgets[taskType] = function (container, labels, config) -> {reset(), key(k) -> bool, answer(), missing}
// reset(): clear for a new item; key(k): handle a key press, true if used; answer(): the value to submit,
// or undefined when incomplete (then `missing` says what to do). config: the page's workspace config (e.g.
// numeric's range); optional `field`: a text box of the widget's own, whose keys type there (see workspace.js).
"use strict";

Truthline.widgets.classification = function (container, labels) {
  let chosen = -1;
  const ui = Truthline.labelButtons(container, labels, select);

  function select(i) {
    chosen = i;
    ui.buttons.forEach(function (b, j) { b.setAttribute("aria-pressed", String(j === i)); });
  }

  return {
    missing: "Choose a label first (press its number key).",
    reset: function () { select(-1); },
    key: function (k) {
      const i = ui.indexForKey(k);
      if (i < 0) return false;
      select(i);
      return true;
    },
    answer: function () { return chosen >= 0 ? labels[chosen] : undefined; },
  };
};
