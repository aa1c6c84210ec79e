/* pricealert web app: the few things a page does in the browser (no build step, no inline script).
 * The alert form's percent equivalents, computed as the user types from the current price
 * that htmx keeps in #current-price (data-price); the alert form's kind switch (only the chosen
 * kind's fields show); the channel form's template fields for its kind and its own quiet hours. Everything else is
 * server-rendered, and every form works without this file (all fields show, the server decides). */
(function () {
  "use strict";

  function currentPrice() {
    var el = document.querySelector("#current-price [data-price]");
    return el ? parseFloat(el.getAttribute("data-price")) : NaN;
  }

  function number(input) {
    if (!input || input.value.trim() === "") return NaN;
    return parseFloat(input.value.replace(/,/g, ""));
  }

  function priceText(value) {
    var digits = value >= 100 ? 2 : value >= 1 ? 4 : 8;
    return value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function update() {
    var price = currentPrice();
    var target = number(document.getElementById("id_target_price"));
    var percent = number(document.getElementById("id_change_percent"));
    var targetHint = document.getElementById("target-percent");
    var percentHint = document.getElementById("percent-target");
    if (targetHint) {
      if (isFinite(price) && price > 0 && isFinite(target) && target > 0) {
        var move = ((target - price) / price) * 100;
        targetHint.textContent = (move > 0 ? "+" : "") + move.toFixed(2) + "% from the current price";
      } else {
        targetHint.textContent = "";
      }
    }
    if (percentHint) {
      if (isFinite(price) && price > 0 && isFinite(percent) && percent > -100) {
        percentHint.textContent = "a target of about " + priceText(price * (1 + percent / 100)) + " at the current price";
      } else {
        percentHint.textContent = "";
      }
    }
  }

  /* Show the parts of a form marked data-kinds="price move" only while their kind is chosen
   * (the checked radio, or the select, named by the form's data-kind-input), disabling their
   * inputs so a hidden field is never posted. */
  function chosenKind(form) {
    return choice(form, form.getAttribute("data-kind-input"));
  }

  function switchKinds(form) {
    var kind = chosenKind(form);
    if (!kind) return;
    form.querySelectorAll("[data-kinds]").forEach(function (part) {
      var shown = part.getAttribute("data-kinds").split(" ").indexOf(kind) !== -1;
      part.hidden = !shown;
      part.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !shown;
      });
    });
  }

  /* A part marked data-when="quiet_hours_mode=own" shows only while that choice is made
   * (the channel form's own quiet hours). */
  function choice(form, name) {
    var radio = form.querySelector('input[name="' + name + '"]:checked');
    if (radio) return radio.value;
    var select = form.querySelector('select[name="' + name + '"]');
    return select ? select.value : null;
  }

  function switchWhen(form) {
    form.querySelectorAll("[data-when]").forEach(function (part) {
      var rule = part.getAttribute("data-when").split("=");
      var chosen = choice(form, rule[0]);
      var shown = chosen === null || chosen === rule[1];
      part.hidden = !shown;
      part.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !shown;
      });
    });
  }

  function switchAllKinds() {
    document.querySelectorAll("form[data-kind-input]").forEach(switchKinds);
    document.querySelectorAll("form").forEach(switchWhen);
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-kind-input") && event.target.name === form.getAttribute("data-kind-input")) {
      switchKinds(form);
    }
    if (form) switchWhen(form);
  });
  document.addEventListener("DOMContentLoaded", switchAllKinds);

  document.addEventListener("input", function (event) {
    if (event.target.id === "id_target_price" || event.target.id === "id_change_percent") update();
  });
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("DOMContentLoaded", update);
})();
