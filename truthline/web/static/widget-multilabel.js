// Workspace widget for `multilabel`: any subset of the labels (number keys toggle; an empty set is allowed
// and means "none of these"). Interface: see widget-classification.js.
"use strict";

Truthline.widgets.multilabel = function (container, labels) {
  const on = new Set();
  const ui = Truthline.labelButtons(container, labels, toggle);

  function paint() {
    ui.buttons.forEach(function (b, j) { b.setAttribute("aria-pressed", String(on.has(j))); });
  }
  function toggle(i) {
    if (on.has(i)) on.delete(i); else on.add(i);
    paint();
  }

  return {
    missing: "",
    reset: function () { on.clear(); paint(); },
    key: function (k) {
      const i = ui.indexForKey(k);
      if (i < 0) return false;
      toggle(i);
      return true;
    },
    // Labels in the project's order, whatever order they were toggled in.
    answer: function () { return labels.filter(function (_, j) { return on.has(j); }); },
  };
};
