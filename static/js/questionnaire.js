// Questionnaire pages: a progress indicator, a draft kept on this device, and one submit per click.
// No inline scripts: this file is all the page runs (a strict CSP stays possible).
(function () {
  "use strict";
  var DRAFT_PREFIX = "healing-draft:";
  var DRAFT_DAYS = 14;

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  // On the thank-you page: the answers are saved, so drafts on this device are no longer needed.
  if (document.querySelector("[data-clear-drafts]")) {
    var store = storage();
    if (store) {
      Object.keys(store).forEach(function (key) {
        if (key.indexOf(DRAFT_PREFIX) === 0) { store.removeItem(key); }
      });
    }
    return;
  }

  var form = document.querySelector("form[data-questionnaire]");
  if (!form) { return; }
  var store = storage();
  var draftKey = DRAFT_PREFIX + form.dataset.draftKey;
  var progress = document.querySelector("[data-progress]");
  var bar = document.querySelector("[data-progress-bar]");
  var text = document.querySelector("[data-progress-text]");
  function radioNames(selector) {
    return Array.prototype.map.call(form.querySelectorAll(selector), function (fieldset) {
      return fieldset.querySelector("input[type=radio]").name;
    });
  }
  var groups = radioNames("fieldset.item");
  // The optional "About you" questions: kept in the draft, not counted in the progress.
  var optional = radioNames("fieldset.casemix-item");

  function answers(names) {
    var values = {};
    (names || groups).forEach(function (name) {
      var checked = form.querySelector("input[name='" + name + "']:checked");
      if (checked) { values[name] = checked.value; }
    });
    return values;
  }

  function updateProgress() {
    var done = Object.keys(answers()).length;
    var total = groups.length;
    if (progress) { progress.setAttribute("aria-valuenow", String(done)); }
    if (bar) { bar.style.width = (total ? (100 * done / total) : 0) + "%"; }
    if (text && text.dataset.template) {
      text.textContent = text.dataset.template.replace("__done__", done).replace("__total__", total);
    }
  }

  function saveDraft() {
    if (!store) { return; }
    var comment = form.querySelector("textarea[name=comment]");
    var draft = { saved: Date.now(), answers: answers(groups.concat(optional)), comment: comment ? comment.value : "" };
    try { store.setItem(draftKey, JSON.stringify(draft)); } catch (e) { /* storage full or blocked */ }
  }

  function restoreDraft() {
    if (!store) { return; }
    var draft;
    try { draft = JSON.parse(store.getItem(draftKey) || "null"); } catch (e) { draft = null; }
    if (!draft || Date.now() - draft.saved > DRAFT_DAYS * 864e5) { return; }
    // Answers the server sent back (after an error) win over the draft.
    Object.keys(draft.answers || {}).forEach(function (name) {
      if (form.querySelector("input[name='" + name + "']:checked")) { return; }
      var input = form.querySelector("input[name='" + name + "'][value='" + draft.answers[name] + "']");
      if (input) { input.checked = true; }
    });
    var comment = form.querySelector("textarea[name=comment]");
    if (comment && !comment.value && draft.comment) { comment.value = draft.comment; }
  }

  restoreDraft();
  updateProgress();
  form.addEventListener("change", function () { updateProgress(); saveDraft(); });
  form.addEventListener("input", saveDraft);
  // A phone going to sleep or a tab switch: save what is there.
  document.addEventListener("visibilitychange", saveDraft);
  window.addEventListener("pagehide", saveDraft);

  // One submit per click: a second click while the first is on its way sends nothing.
  var sending = false;
  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    sending = true;
    saveDraft();
    var button = form.querySelector("[data-submit]");
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.classList.add("disabled");
      if (button.dataset.busyLabel) { button.textContent = button.dataset.busyLabel; }
    }
  });
  // Coming back through the history cache re-enables the form.
  window.addEventListener("pageshow", function () { sending = false; });

  var errors = document.getElementById("form-errors");
  if (errors) {
    var first = form.querySelector("fieldset.item.has-error input");
    if (first) { first.focus(); } else { errors.focus(); }
  }
})();
