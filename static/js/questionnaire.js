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

  // A draft is kept only while it holds something: an empty one would later claim answers that were never given.
  function saveDraft() {
    if (!store) { return; }
    var comment = form.querySelector("textarea[name=comment]");
    var draft = { saved: Date.now(), answers: answers(groups.concat(optional)), comment: comment ? comment.value : "" };
    try {
      if (Object.keys(draft.answers).length || draft.comment.trim()) {
        store.setItem(draftKey, JSON.stringify(draft));
      } else {
        store.removeItem(draftKey);
      }
    } catch (e) { /* storage full or blocked */ }
  }

  // Returns how many answers (and whether a comment) the draft put back on the page.
  function restoreDraft() {
    if (!store) { return 0; }
    var draft;
    try { draft = JSON.parse(store.getItem(draftKey) || "null"); } catch (e) { draft = null; }
    if (!draft || Date.now() - draft.saved > DRAFT_DAYS * 864e5) { return 0; }
    var restored = 0;
    // Answers the server sent back (after an error) win over the draft.
    Object.keys(draft.answers || {}).forEach(function (name) {
      if (form.querySelector("input[name='" + name + "']:checked")) { return; }
      var input = form.querySelector("input[name='" + name + "'][value='" + draft.answers[name] + "']");
      if (input) { input.checked = true; restored += 1; }
    });
    var comment = form.querySelector("textarea[name=comment]");
    if (comment && !comment.value && draft.comment) { comment.value = draft.comment; restored += 1; }
    return restored;
  }

  // After a refused POST the server marks each unanswered item; once it is answered, its message, its red bar
  // and its place in the summary's count go, and the summary itself goes with the last one (issue 14).
  var summary = document.querySelector("[data-form-errors]");

  function clearItemError(fieldset) {
    if (!fieldset || !fieldset.classList.contains("has-error")) { return; }
    if (!fieldset.querySelector("input[type=radio]:checked")) { return; }
    fieldset.classList.remove("has-error");
    fieldset.removeAttribute("aria-describedby");
    var message = fieldset.querySelector(".item-error");
    if (message) { message.remove(); }
    Array.prototype.forEach.call(fieldset.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
    });
  }

  function updateSummary() {
    if (!summary) { return; }
    var left = form.querySelectorAll("fieldset.item.has-error").length;
    if (!left && !summary.hasAttribute("data-other-errors")) { summary.hidden = true; return; }
    var count = summary.querySelector("[data-error-count]");
    if (count) {
      var template = left === 1 ? count.dataset.templateOne : count.dataset.templateOther;
      if (template) { count.textContent = template.replace("__count__", left); }
    }
  }

  function clearAnsweredErrors() {
    Array.prototype.forEach.call(form.querySelectorAll("fieldset.item.has-error"), clearItemError);
    updateSummary();
  }

  var restored = restoreDraft();
  if (restored) {
    var notice = document.querySelector("[data-draft-restored]");
    if (notice) { notice.hidden = false; }
  }
  clearAnsweredErrors();
  updateProgress();
  form.addEventListener("change", function (event) {
    var fieldset = event.target.closest ? event.target.closest("fieldset.item") : null;
    if (fieldset) { clearItemError(fieldset); updateSummary(); }
    updateProgress();
    saveDraft();
  });
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
  if (errors && !errors.hidden) {
    var first = form.querySelector("fieldset.item.has-error input");
    if (first) { first.focus(); } else { errors.focus(); }
  }
})();
