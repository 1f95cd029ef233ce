// Small DOM helpers shared by the views.

export const $ = (id) => document.getElementById(id);

/** Create an element: h("li", {class: "x", onclick: fn}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Show an API error (message + machine code) in a role=alert box; hide it when err is null. */
export function showError(box, err, prefix = "") {
  if (!err) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const message = err.message || String(err);
  box.replaceChildren(h("span", { class: "error-message" }, prefix + message));
  if (err.code) box.append(" ", h("code", { class: "error-code" }, err.code));
  box.hidden = false;
}

/** Set a one-line status with an ok/bad tone. */
export function setStatus(el, text, tone = "") {
  el.textContent = text;
  el.classList.toggle("ok", tone === "ok");
  el.classList.toggle("bad", tone === "bad");
}

export const TERMINAL = new Set(["completed", "failed", "canceled", "cancelled", "rejected"]);

/** The exact state (v1 ``state``: canceled and rejected read as failed in ``status``), lower case. */
export function statusOf(gen) {
  return String(gen?.state || gen?.status || "").toLowerCase();
}
