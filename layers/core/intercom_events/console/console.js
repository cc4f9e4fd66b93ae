// The console: plain JavaScript over the public management API, no library and no build step.
// The secrets the person types live in this tab's sessionStorage and leave it only in the
// Authorization header of calls to this same origin (the page's Content-Security-Policy allows no other).
"use strict";

(() => {
  // The API's base path is the page's, less "/console": right behind a custom domain's base path too.
  const BASE = location.pathname.replace(/\/console\/?$/, "");
  const CONSOLE_URL = location.origin + location.pathname; // Intercom sends the person back here
  const AUTH_KEY = "intercomEvents.auth";
  const PENDING_KEY = "intercomEvents.pendingCreate"; // the create body across the OAuth round trip
  const REFRESH_MS = 3000;
  const MASK = "********";

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // --- small helpers ------------------------------------------------------------------------------------

  /** An element with attributes and children; text always goes in as text, never as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return el("time", { datetime: iso, title: iso }, date.toLocaleString());
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind || text}` }, text);
  }

  let noticeTimer = null;
  function notify(message, isError = false) {
    const box = $("#notice");
    box.textContent = message;
    box.classList.toggle("error", isError);
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { box.hidden = true; }, isError ? 12000 : 5000);
  }

  function readJson(key) {
    try { return JSON.parse(sessionStorage.getItem(key) || "null"); } catch { return null; }
  }

  function auth() {
    const value = readJson(AUTH_KEY);
    return value && value.user && value.organization ? value : null;
  }

  // --- the API ------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `The API answered ${status}`);
      this.status = status;
      this.errors = (body && Array.isArray(body.errors)) ? body.errors : [];
      this.requestId = body && body.requestId;
    }
  }

  async function api(method, path, body) {
    const who = auth();
    if (!who) throw new ApiError(401, { message: "Sign in first" });
    const init = {
      method,
      headers: {
        Authorization: `User ${who.user}, Organization ${who.organization}`,
        Accept: "application/json",
      },
      cache: "no-store",
      credentials: "omit",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(BASE + path, init);
    } catch {
      throw new ApiError(0, { message: "The API could not be reached" });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text.slice(0, 200) }; }
    if (!response.ok) {
      if (response.status === 401) {
        sessionStorage.removeItem(AUTH_KEY);
        showSignIn("These secrets were refused: sign in again.");
      }
      throw new ApiError(response.status, data);
    }
    return { data, headers: response.headers };
  }

  function describe(error) {
    const suffix = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.message}${suffix}`;
  }

  // --- views --------------------------------------------------------------------------------------------

  let refreshTimer = null;
  let current = null; // the instance page's state: {id, instance, nextPage}
  let createdToken = null; // {id, token}: the create answer's token, shown once

  function show(view) {
    for (const section of $$(".view")) section.hidden = section.id !== `view-${view}`;
    const signedIn = Boolean(auth());
    $("#main-nav").hidden = !signedIn;
    $("#sign-out").hidden = !signedIn;
  }

  function stopRefresh() {
    clearInterval(refreshTimer);
    refreshTimer = null;
    current = null;
  }

  function route() {
    stopRefresh();
    if (!auth()) return showSignIn();
    const hash = location.hash || "#/";
    if (hash === "#/new") return showCreate();
    const match = hash.match(/^#\/instances\/(\d+)$/);
    if (match) return showInstance(Number(match[1]));
    return showList();
  }

  // Sign in

  function showSignIn(message) {
    stopRefresh();
    show("signin");
    const error = $("#signin-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("#signin-user").focus();
  }

  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const user = $("#signin-user").value.trim();
    const organization = $("#signin-organization").value.trim();
    if (!user || !organization) {
      const error = $("#signin-error");
      error.textContent = "Both secrets are needed.";
      error.hidden = false;
      return;
    }
    sessionStorage.setItem(AUTH_KEY, JSON.stringify({ user, organization }));
    event.target.reset();
    if (!finishOAuth()) route();
  });

  $("#sign-out").addEventListener("click", () => {
    sessionStorage.clear();
    createdToken = null;
    location.hash = "#/";
    showSignIn();
  });

  // The list of instances

  async function showList() {
    show("list");
    const body = $("#instance-table tbody");
    try {
      const { data } = await api("GET", "/instances");
      body.replaceChildren(...data.map((instance) => el("tr", {},
        el("td", {}, el("a", { href: `#/instances/${instance.id}` }, instance.name)),
        el("td", { class: "num" }, instance.id),
        el("td", {}, (instance.configuration || {})["event.vendor.type"] || ""),
        el("td", {}, instance.disabled ? badge("disabled") : badge("enabled")),
        el("td", {}, when(instance.createdDate)),
      )));
      $("#instance-empty").hidden = data.length > 0;
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
    }
  }

  // Create

  const form = $("#create-form");

  function authType() {
    return form.elements.authType.value;
  }

  function syncForm() {
    for (const field of $$("[data-auth]", form)) field.hidden = field.dataset.auth !== authType();
  }
  for (const radio of form.elements.authType) radio.addEventListener("change", syncForm);

  function showCreate() {
    show("new");
    clearErrors();
    syncForm();
    $("#f-name").focus();
  }

  function clearErrors() {
    const general = $("#create-error");
    general.hidden = true;
    general.replaceChildren();
    for (const field of $$(".field", form)) {
      const message = $(".field-error", field);
      if (message) { message.hidden = true; message.textContent = ""; }
      for (const input of $$("input, select", field)) {
        input.removeAttribute("aria-invalid");
        const described = (input.getAttribute("aria-describedby") || "").split(" ")
          .filter((id) => id && !id.endsWith("-error"));
        if (described.length) input.setAttribute("aria-describedby", described.join(" "));
        else input.removeAttribute("aria-describedby");
      }
    }
  }

  /** The API's `errors` beside the fields they name; the rest, and the message, above the form. */
  function showErrors(message, errors) {
    clearErrors();
    const unplaced = [];
    let first = null;
    for (const { field, message: text } of errors) {
      const name = String(field || "");
      const holder = $$("[data-field]", form).find((candidate) => {
        const key = candidate.dataset.field;
        return name === key || name.startsWith(`${key}.`);
      });
      const slot = holder && !holder.hidden && $(".field-error", holder);
      if (!slot) { unplaced.push(`${name}: ${text}`); continue; }
      slot.id = `${holder.dataset.field.replace(/[^\w-]/g, "-")}-error`;
      slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
      slot.hidden = false;
      const input = $("input:not([type=radio]), select", holder);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!described.includes(slot.id)) described.push(slot.id);
        input.setAttribute("aria-describedby", described.join(" "));
        first = first || input;
      }
    }
    const general = $("#create-error");
    general.replaceChildren(el("strong", {}, message));
    if (first) general.append(" ", "The fields concerned are marked below.");
    if (unplaced.length) general.append(el("ul", {}, unplaced.map((line) => el("li", {}, line))));
    general.hidden = false;
    (first || general).focus?.();
  }

  function value(name) {
    const input = form.elements[name];
    return input ? input.value.trim() : "";
  }

  /** Open Connectors' create body from the form (empty optional fields left out). */
  function createBody() {
    const type = authType();
    const configuration = {
      "authentication.type": type,
      "event.notification.enabled": form.elements["event.notification.enabled"].checked,
      "event.vendor.type": value("event.vendor.type"),
    };
    const optional = [
      "oauth.api.secret", "event.notification.callback.url", "event.notification.signature.key",
      "event.objects", "event.poller.refresh_interval",
    ];
    if (type === "oauth2") {
      optional.push("oauth.api.key");
      configuration["oauth.callback.url"] = CONSOLE_URL;
    } else {
      optional.push("intercom.access.token");
    }
    for (const name of optional) {
      const text = value(name);
      if (text) configuration[name] = name === "event.poller.refresh_interval" && /^\d+$/.test(text) ? Number(text) : text;
    }
    const tags = value("tags").split(",").map((tag) => tag.trim()).filter(Boolean);
    return { element: { key: "intercom" }, name: value("name"), tags, configuration };
  }

  function fillForm(body) {
    const configuration = body.configuration || {};
    form.elements.name.value = body.name || "";
    form.elements.tags.value = (body.tags || []).join(", ");
    for (const radio of form.elements.authType) radio.checked = radio.value === configuration["authentication.type"];
    for (const input of $$("input[name*='.'], select[name*='.']", form)) {
      if (input.type === "checkbox") input.checked = configuration[input.name] !== false;
      else if (configuration[input.name] !== undefined) input.value = configuration[input.name];
    }
    syncForm();
  }

  /** What the API would refuse anyway, said before a trip to Intercom's consent page is wasted. */
  function missingFields(body) {
    const configuration = body.configuration;
    const problems = [];
    if (!body.name) problems.push({ field: "name", message: "required" });
    if (configuration["authentication.type"] === "oauth2") {
      if (!configuration["oauth.api.key"]) problems.push({ field: "configuration.oauth.api.key", message: "required" });
      if (!configuration["oauth.api.secret"]) problems.push({ field: "configuration.oauth.api.secret", message: "required" });
    } else if (!configuration["intercom.access.token"]) {
      problems.push({ field: "configuration.intercom.access.token", message: "required" });
    }
    return problems;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = createBody();
    const problems = missingFields(body);
    if (problems.length) return showErrors("Some fields need a value", problems);
    const submit = $("#create-submit");
    submit.disabled = true;
    try {
      if (body.configuration["authentication.type"] === "oauth2") {
        await startOAuth(body);
      } else {
        await create(body);
      }
    } catch (error) {
      if (error.status !== 401) showErrors(describe(error), error.errors);
    } finally {
      submit.disabled = false;
    }
  });

  async function create(body) {
    const { data } = await api("POST", "/instances", body);
    form.reset(); // the secrets typed in go with it
    syncForm();
    createdToken = data.token ? { id: data.id, token: data.token } : null;
    notify(`Instance ${data.id} created`);
    location.hash = `#/instances/${data.id}`;
  }

  // The OAuth round trip: Intercom's consent page, then back here with ?code=…&state=….

  async function startOAuth(body) {
    const state = crypto.randomUUID();
    const query = new URLSearchParams({
      apiKey: body.configuration["oauth.api.key"], callbackUrl: CONSOLE_URL, state,
    });
    const { data } = await api("GET", `/elements/intercom/oauth/url?${query}`);
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, body }));
    location.assign(data.oauthUrl);
  }

  /** Back from Intercom: finish the create with the code. True when this load was such a return. */
  function finishOAuth() {
    const params = new URLSearchParams(location.search);
    if (!params.has("code") && !params.has("error")) return false;
    if (!auth()) { showSignIn("Sign in to finish creating the instance."); return true; }
    const pending = readJson(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, "", location.pathname + "#/new"); // the code is used once: off the URL
    if (!pending) {
      route();
      notify("Intercom sent an authorization back, but no instance was being created in this tab.", true);
      return true;
    }
    showCreate();
    fillForm(pending.body);
    if (params.has("error") || params.get("state") !== pending.state) {
      const why = params.has("error") ? `Intercom answered ${params.get("error")}` : "the state did not match";
      showErrors(`The authorization was not completed: ${why}. Try again.`, []);
      return true;
    }
    const body = { ...pending.body, providerData: { code: params.get("code") } };
    create(body).catch((error) => {
      if (error.status === 401) return;
      showErrors(`${describe(error)}. The authorization code is spent: correct the form and consent again.`, error.errors);
    });
    return true;
  }

  // One instance

  async function showInstance(id) {
    show("instance");
    current = { id, instance: null, nextPage: null };
    $("#instance-title").textContent = `Instance ${id}`;
    $("#instance-crumb").textContent = `Instance ${id}`;
    $("#event-table tbody").replaceChildren();
    const token = createdToken && createdToken.id === id ? createdToken.token : null;
    $("#token-card").hidden = !token;
    $("#instance-token").textContent = token || "";
    try {
      await loadInstance();
      await loadEvents();
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
      return;
    }
    refreshTimer = setInterval(() => {
      if (!$("#auto-refresh").checked || $("#event-dialog").open || document.hidden) return;
      loadInstance().then(loadEvents).catch(() => {});
    }, REFRESH_MS);
  }

  async function loadInstance() {
    const page = current;
    const { data: instance } = await api("GET", `/instances/${page.id}`);
    if (current !== page) return;
    page.instance = instance;
    const configuration = instance.configuration || {};
    const polling = configuration["event.vendor.type"] === "polling";
    $("#instance-title").textContent = instance.name;
    $("#instance-crumb").textContent = instance.name;
    const state = $("#instance-state");
    state.textContent = instance.disabled ? "disabled" : "enabled";
    state.className = `badge ${state.textContent}`;
    $("#toggle-enabled").textContent = instance.disabled ? "Enable" : "Disable";
    $("#poll-now").hidden = !polling;
    $("#webhook-url").textContent = instance.webhookUrl;
    $("#webhook-hint").textContent = polling
      ? "A polling instance needs no webhook; this URL answers if Intercom is pointed at it all the same."
      : "Paste it into your Intercom app's Developer Hub (Webhooks), with the topics you want.";
    const rows = [
      ["Id", instance.id],
      ["Events", instance.eventsEnabled ? "enabled" : "off"],
      ["Callback URL", instance.eventsNotificationCallbackUrl || ""],
      ["Tags", (instance.tags || []).join(", ") || "—"],
      ["Created", when(instance.createdDate)],
      ["Updated", when(instance.updatedDate)],
      ...Object.keys(configuration).sort().map((key) => [key, formatValue(configuration[key])]),
    ];
    $("#instance-config").replaceChildren(...rows.flatMap(([name, text]) => [el("dt", {}, name), el("dd", {}, text)]));
    renderPoller(polling ? instance.pollerStatus || {} : null);
  }

  function formatValue(value) {
    if (value === MASK) return el("span", { class: "masked", title: "secret: never shown" }, MASK);
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function renderPoller(status) {
    $("#poller-card").hidden = !status;
    if (!status) return;
    const events = status.events ? Object.entries(status.events).map(([type, n]) => `${n} ${type}`).join(", ") : "";
    const rows = [
      ["Last poll", status.lastPollDate ? when(status.lastPollDate) : "not yet"],
      ["Outcome", status.outcome ? badge(status.outcome) : "—"],
      ["Reason", status.reason],
      ["Events sent", events],
      ["Polling since", when(status.pollingSince)],
      ["Failures in a row", status.consecutiveFailures],
      ["Failing since", when(status.failingSince)],
      ["Authorization", status.authorizationFailure
        ? el("span", { class: "badge failed" }, `refused ${new Date(status.authorizationFailure.date).toLocaleString()}: ${status.authorizationFailure.message}`)
        : "accepted"],
    ].filter(([, text]) => text !== undefined && text !== null && text !== "");
    $("#poller-status").replaceChildren(...rows.flatMap(([name, text]) => [el("dt", {}, name), el("dd", {}, text)]));
  }

  async function loadEvents(append = false) {
    const page = current;
    const query = new URLSearchParams();
    const status = $("#events-filter").value;
    if (status) query.set("status", status);
    if (append && page.nextPage) query.set("nextPage", page.nextPage);
    const { data, headers } = await api("GET", `/instances/${page.id}/events${query.size ? `?${query}` : ""}`);
    if (current !== page) return;
    const rows = data.map(eventRow);
    const body = $("#event-table tbody");
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    page.nextPage = headers.get("Elements-Next-Page-Token");
    $("#older-events").hidden = !page.nextPage;
    $("#event-empty").hidden = body.children.length > 0;
  }

  function lastResponse(entry) {
    const code = entry.lastResponseCode ? `HTTP ${entry.lastResponseCode}` : "";
    const error = entry.lastError && entry.lastError !== code ? entry.lastError : "";
    return [code, error].filter(Boolean).join(" · ");
  }

  function eventRow(entry) {
    return el("tr", { "data-event-id": entry.eventId, "data-status": entry.status },
      el("td", {}, el("button", {
        type: "button", class: "button link", title: entry.eventId,
        "aria-label": `Open event ${entry.eventId}`, onclick: () => openEvent(entry),
      }, el("code", {}, entry.eventId.slice(0, 8)))),
      el("td", {}, badge(entry.status)),
      el("td", { class: "num" }, entry.attempts ?? 0),
      el("td", {}, lastResponse(entry)),
      el("td", {}, (entry.objectTypes || []).join(", ")),
      el("td", {}, when(entry.createdDate)),
      el("td", {}, when(entry.deliveredDate || entry.updatedDate)),
      el("td", {}, el("button", {
        type: "button", class: "button small", "aria-label": `Retry event ${entry.eventId}`,
        onclick: (event) => retryOne(entry.eventId, event.currentTarget),
      }, "Retry")),
    );
  }

  async function retryOne(eventId, button) {
    button.disabled = true;
    try {
      await api("POST", `/instances/${current.id}/events/${encodeURIComponent(eventId)}/retry`);
      notify(`Event ${eventId.slice(0, 8)} sent again`);
      await loadEvents();
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
      button.disabled = false;
    }
  }

  $("#retry-all").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const { data } = await api("POST", `/instances/${current.id}/events/retry`);
      notify(`${data.retried} event${data.retried === 1 ? "" : "s"} sent again${data.resumed ? "; deliveries resumed" : ""}`);
      await loadEvents();
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
    } finally {
      button.disabled = false;
    }
  });

  $("#refresh-events").addEventListener("click", () => {
    loadInstance().then(loadEvents).catch((error) => notify(describe(error), true));
  });
  $("#events-filter").addEventListener("change", () => loadEvents().catch((error) => notify(describe(error), true)));
  $("#older-events").addEventListener("click", () => loadEvents(true).catch((error) => notify(describe(error), true)));

  $("#toggle-enabled").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const enable = current.instance && current.instance.disabled;
    button.disabled = true;
    try {
      await api(enable ? "PUT" : "DELETE", `/instances/${current.id}/enabled`);
      notify(enable ? "Instance enabled" : "Instance disabled: no polls, webhooks acknowledged and dropped");
      await loadInstance();
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
    } finally {
      button.disabled = false;
    }
  });

  $("#poll-now").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api("POST", `/instances/${current.id}/poll`);
      notify("Poll scheduled: it starts within a minute");
    } catch (error) {
      if (error.status !== 401) notify(describe(error), true);
    } finally {
      button.disabled = false;
    }
  });

  // Copy buttons: the Clipboard API where the page may use it, a selection and execCommand otherwise.
  for (const button of $$("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = source.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      notify("Copied to the clipboard");
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }

  // One event: the callback as sent and every attempt.

  const dialog = $("#event-dialog");
  $("#event-dialog-close").addEventListener("click", () => dialog.close());

  async function openEvent(entry) {
    const body = $("#event-dialog-body");
    $("#event-dialog-title").textContent = `Event ${entry.eventId}`;
    body.replaceChildren(el("p", {}, "Loading…"));
    dialog.showModal();
    let detail = entry;
    let missing = null;
    try {
      ({ data: detail } = await api("GET", `/instances/${current.id}/events/${encodeURIComponent(entry.eventId)}`));
    } catch (error) {
      if (error.status === 401) { dialog.close(); return; }
      missing = error.status === 404 && error.message === "No such route"
        ? "This API does not answer an event's attempts yet: only the log's summary is shown."
        : describe(error);
    }
    body.replaceChildren(...eventDetail(detail, missing));
  }

  function eventDetail(detail, missing) {
    const parts = [
      el("dl", { class: "props" },
        el("dt", {}, "Status"), el("dd", {}, badge(detail.status)),
        el("dt", {}, "Attempts"), el("dd", {}, detail.attempts ?? 0),
        el("dt", {}, "Last response"), el("dd", {}, lastResponse(detail) || "—"),
        el("dt", {}, "Source"), el("dd", {}, detail.source || ""),
        el("dt", {}, "Objects"), el("dd", {}, (detail.objectTypes || []).join(", ")),
        el("dt", {}, "Created"), el("dd", {}, when(detail.createdDate)),
        el("dt", {}, "Delivered"), el("dd", {}, when(detail.deliveredDate) || "—"),
      ),
    ];
    if (missing) parts.push(el("p", { class: "form-error", role: "alert" }, missing));
    if (detail.callback) {
      const sent = typeof detail.callback.body === "string" ? prettyJson(detail.callback.body) : JSON.stringify(detail.callback.body, null, 2);
      parts.push(
        el("h3", {}, "Callback"),
        el("p", {}, "POST ", el("code", {}, detail.callback.url || "")),
        el("pre", { class: "body", tabindex: "0", "aria-label": "Callback body" }, sent),
      );
    }
    if (Array.isArray(detail.attemptLog)) {
      parts.push(el("h3", {}, "Attempts"));
      if (!detail.attemptLog.length) parts.push(el("p", { class: "hint" }, "Not attempted yet."));
      else {
        parts.push(el("table", { class: "table", id: "attempt-table" },
          el("thead", {}, el("tr", {},
            ["#", "Time", "Duration", "Answer", "Receiver's answer"].map((name) => el("th", { scope: "col" }, name)))),
          el("tbody", {}, detail.attemptLog.map((attempt) => el("tr", { "data-attempt": attempt.attempt },
            el("td", { class: "num" }, attempt.attempt),
            el("td", {}, when(attempt.date)),
            el("td", { class: "num" }, attempt.durationMs !== undefined ? `${attempt.durationMs} ms` : ""),
            el("td", {}, attempt.responseCode ? badge(`HTTP ${attempt.responseCode}`, attempt.responseCode < 300 ? "delivered" : "failed") : "",
              attempt.error ? ` ${attempt.error}` : ""),
            el("td", {}, attempt.responseBody ? el("pre", { class: "body" }, attempt.responseBody) : ""),
          ))),
        ));
      }
    }
    return parts;
  }

  function prettyJson(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
  }

  // --- start --------------------------------------------------------------------------------------------

  window.addEventListener("hashchange", route);
  if (!finishOAuth()) route();
})();
