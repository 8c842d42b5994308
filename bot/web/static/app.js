/* The Mini App: fetches its pages from /app/f/... with Telegram's signed initData, keeps the
   ballot's live counter, and uses Telegram's main button and theme when Telegram is there.
   Without Telegram's script it still works (the initData is read from the address). */
"use strict";
(function () {
  var tg = window.Telegram && window.Telegram.WebApp;
  var root = document.getElementById("app");
  var status = document.getElementById("app-status");
  if (!root) return;

  function fromHash(name) {
    try { return new URLSearchParams(location.hash.slice(1)).get(name); } catch (e) { return null; }
  }
  var initData = (tg && tg.initData) || fromHash("tgWebAppData") || sessionStorage.getItem("civic-init") || "";
  if (initData) sessionStorage.setItem("civic-init", initData);

  function fragment(path) {
    var url = new URL(path, location.origin);
    var rest = url.pathname.replace(/^\/app\/?/, "");
    return "/app/f/" + (rest || "home") + url.search;
  }

  function load(path, options, push) {
    root.setAttribute("aria-busy", "true");
    var init = { method: (options && options.method) || "GET", headers: { "Authorization": "tma " + initData } };
    if (options && options.body) {
      init.body = options.body;
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
    }
    return fetch(options && options.fragment ? path : fragment(path), init).then(function (response) {
      // The shell speaks the browser's language, the fragments the person's: follow theirs.
      var language = response.headers.get("Content-Language");
      if (language && language !== document.documentElement.lang) {
        var address = new URL(location.href);
        address.searchParams.set("lang", language);
        location.replace(address.toString());
        return new Promise(function () {});
      }
      return response.text();
    }).then(function (html) {
      root.innerHTML = html;
      if (push) history.pushState({ app: true }, "", push);
      ready();
    }).catch(function () {
      root.innerHTML = "";
      var p = document.createElement("p");
      p.className = "warn";
      p.textContent = root.dataset.error;
      root.appendChild(p);
    }).finally(function () {
      root.removeAttribute("aria-busy");
    });
  }

  function shellPath(action) {
    return action.replace(/^\/app\/f\/(home)?/, "/app/");
  }

  function bind() {
    root.querySelectorAll("a[data-app]").forEach(function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        load(a.getAttribute("href"), null, a.getAttribute("href"));
      });
    });
    document.querySelectorAll("header a[data-app]").forEach(function (a) {
      if (a.dataset.bound) return;
      a.dataset.bound = "1";
      a.addEventListener("click", function (event) {
        event.preventDefault();
        load(a.getAttribute("href"), null, a.getAttribute("href"));
      });
    });
    root.querySelectorAll("a[data-telegram]").forEach(function (a) {
      if (!tg || !tg.openTelegramLink) return;
      a.addEventListener("click", function (event) {
        event.preventDefault();
        tg.openTelegramLink(a.href);
      });
    });
    root.querySelectorAll("form[data-app]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = new URLSearchParams(new FormData(form));
        var action = form.getAttribute("action");
        if (form.method.toLowerCase() === "get") {
          var target = action + "?" + data.toString();
          load(target, null, target);
        } else {
          load(action, { method: "POST", body: data, fragment: true }, null);
        }
      });
    });
  }

  /* Won as the server writes it (bot/i18n.py: korean_won / Babel's en_US currency). */
  function money(amount, lang) {
    if (lang !== "ko") return "₩" + amount.toLocaleString("en-US");
    if (amount === 0) return "0원";
    var sign = amount < 0 ? "-" : "", rest = Math.abs(amount), parts = [];
    [[1e12, "조"], [1e8, "억"], [1e4, "만"]].forEach(function (unit) {
      var count = Math.floor(rest / unit[0]);
      rest = rest % unit[0];
      if (count) parts.push(count.toLocaleString("en-US") + unit[1]);
    });
    if (rest) parts.push(rest.toLocaleString("en-US"));
    return sign + parts.join(" ") + " 원";
  }

  function ballot() {
    var form = document.getElementById("ballot");
    if (!form) return;
    var boxes = form.querySelectorAll("input[type=checkbox][name=choice]");
    var count = document.getElementById("ballot-count");
    var meter = document.getElementById("ballot-budget");
    var left = document.getElementById("ballot-left");
    var tally = form.querySelector(".tally");
    var max = Number(form.dataset.max);
    var budget = form.dataset.budget ? Number(form.dataset.budget) : null;
    function update() {
      var chosen = 0, spent = 0;
      boxes.forEach(function (box) {
        if (box.checked) { chosen += 1; spent += Number(box.dataset.cost || 0); }
      });
      if (count) count.textContent = form.dataset.countText.replace("%(count)d", chosen).replace("%(max)d", max);
      if (budget !== null && meter && left) {
        meter.value = Math.min(spent, budget);
        var over = spent > budget;
        tally.classList.toggle("over", over);
        left.textContent = over
          ? form.dataset.overText.replace("%(money)s", money(spent - budget, form.dataset.lang))
          : form.dataset.leftText.replace("%(money)s", money(budget - spent, form.dataset.lang));
      }
      if (tally) tally.classList.toggle("full", chosen >= max);
      if (status) status.textContent = count ? count.textContent : "";
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  var mainTarget = null;
  function onMain() { if (mainTarget) mainTarget.click(); }
  function mainButton() {
    if (!tg || !tg.MainButton) return;
    mainTarget = root.querySelector("[data-main-button]");
    if (mainTarget) {
      tg.MainButton.setText(mainTarget.textContent.trim());
      tg.MainButton.show();
    } else {
      tg.MainButton.hide();
    }
  }

  function ready() {
    bind();
    ballot();
    mainButton();
    if (window.civicMaps) window.civicMaps(root);
    var heading = root.querySelector("h1");
    if (heading) {
      document.title = heading.textContent.trim();
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
    if (tg && tg.BackButton) {
      if (history.state && history.state.app) tg.BackButton.show(); else tg.BackButton.hide();
    }
  }

  window.addEventListener("popstate", function () { load(location.pathname + location.search, null, null); });
  if (tg) {
    tg.ready();
    if (tg.expand) tg.expand();
    if (tg.MainButton) tg.MainButton.onClick(onMain);
    if (tg.BackButton) tg.BackButton.onClick(function () { history.back(); });
  }
  load(location.pathname + location.search, null, null);
})();
