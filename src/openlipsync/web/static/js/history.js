// The tenant's generations, newest first, with cursor paging, thumbnails, open, cancel and delete.

import { request } from "./api.js";
import { describeStage, formatCost, formatDate, formatSeconds } from "./format.js";
import { $, h, setStatus, statusOf, TERMINAL } from "./ui.js";

const PAGE = 12;
const REFRESH_MS = 3000;

/** Accept {data|items|generations: [...], next_cursor} or a bare list. */
export function unpackList(body) {
  if (Array.isArray(body)) return { items: body, next: null };
  const items = body?.data || body?.items || body?.generations || body?.results || [];
  const next = body?.next_cursor ?? body?.nextCursor ?? body?.cursor ?? null;
  return { items, next: body?.has_more === false ? null : next };
}

export class HistoryView {
  constructor({ onOpen, onDeleted, titleOf }) {
    this.onOpen = onOpen;
    this.onDeleted = onDeleted;
    this.titleOf = titleOf || (() => null);
    this.items = [];
    this.next = null;
    this.currentId = null;
    this._timer = null;
    this._loading = null;
    $("history-refresh").addEventListener("click", () => this.load());
    $("history-status").addEventListener("change", () => this.load());
    $("history-more").addEventListener("click", () => this.load({ more: true }));
  }

  /** Reload the first page (or append the next one). */
  async load({ more = false } = {}) {
    clearTimeout(this._timer);
    const query = { limit: PAGE, status: $("history-status").value, cursor: more ? this.next : null };
    const message = $("history-message");
    try {
      const { items, next } = unpackList(await request("GET", "generations", { query }));
      this.items = more ? this.items.concat(items) : items;
      this.next = next;
      setStatus(message, this.items.length ? "" : "No generations yet.");
      this.render();
    } catch (err) {
      setStatus(message, `Could not load the history: ${err.message}${err.code ? ` (${err.code})` : ""}`, "bad");
    }
    // Keep statuses fresh while anything is still running (without re-rendering thumbnails needlessly).
    if (this.items.some((g) => !TERMINAL.has(statusOf(g)))) {
      this._timer = setTimeout(() => this.load(), REFRESH_MS);
    }
  }

  markCurrent(id) {
    this.currentId = id;
    for (const li of $("history-list").children) li.classList.toggle("current", li.dataset.id === id);
  }

  render() {
    const list = $("history-list");
    // Rows are rebuilt when their job changes: keep keyboard focus on the same action of the same job.
    const focused = document.activeElement;
    const keep = list.contains(focused) && focused.dataset.action
      ? { id: focused.closest("li")?.dataset.id, action: focused.dataset.action } : null;
    const existing = new Map([...list.children].map((li) => [li.dataset.id, li]));
    const rows = this.items.map((gen) => {
      const old = existing.get(gen.id);
      const key = this._renderKey(gen);
      if (old && old.dataset.key === key) return old; // unchanged: keep the loaded thumbnail
      return this._row(gen, key);
    });
    list.replaceChildren(...rows);
    $("history-more").hidden = !this.next;
    this.markCurrent(this.currentId);
    if (keep && !list.contains(document.activeElement)) {
      const row = rows.find((li) => li.dataset.id === keep.id);
      const target = row?.querySelector(`[data-action="${keep.action}"]`) || row?.querySelector("button");
      (target || $("history-title")).focus();
    }
  }

  _renderKey(gen) {
    const p = gen.progress || {};
    return [statusOf(gen), gen.video_url ? "v" : "", gen.cost, gen.duration_seconds, gen.error_code, p.stage,
      Math.round(p.percent || 0)].join("|");
  }

  _row(gen, key) {
    const status = statusOf(gen);
    const title = this.titleOf(gen.id) || `Generation ${gen.id.slice(0, 8)}`;
    const facts = [
      h("span", { class: `badge ${status}` }, status),
      status === "processing" && gen.progress
        ? h("span", {}, `${describeStage(gen.progress.stage)} ${Math.round(gen.progress.percent || 0)}%`) : null,
      h("span", {}, gen.model || ""),
      h("span", { title: "Output duration" }, formatSeconds(gen.duration_seconds)),
      h("span", { title: "Cost" }, formatCost(gen.cost)),
      h("span", {}, formatDate(gen.created_at)),
    ];
    const button = (action, cls, label, handler) => h("button", { type: "button", class: cls,
      "data-action": action, "aria-label": `${label} ${title}`, onclick: handler }, label);
    const actions = [button("open", "secondary", "Open", () => this.onOpen(gen))];
    if (!TERMINAL.has(status)) actions.push(button("cancel", "secondary", "Cancel", () => this._cancel(gen)));
    actions.push(button("delete", "danger", "Delete", () => this._delete(gen)));
    return h("li", { class: "history-item", "data-id": gen.id, "data-key": key, "data-status": status },
      this._thumb(gen),
      h("div", { class: "history-info" },
        h("div", { class: "history-title" }, title),
        h("div", { class: "history-facts" }, facts),
        status === "failed" && gen.error ? h("div", { class: "history-error" }, gen.error) : null),
      h("div", { class: "history-actions" }, actions));
  }

  /** Poster frame of the output: the browser decodes one frame from metadata at #t=0.5. */
  _thumb(gen) {
    if (gen.thumbnail_url) return h("img", { class: "thumb", src: gen.thumbnail_url, alt: "", loading: "lazy" });
    if (statusOf(gen) === "completed" && gen.video_url) {
      const video = h("video", { muted: true, preload: "metadata", playsInline: true, tabindex: "-1",
        "aria-hidden": "true", src: `${gen.video_url}#t=0.5` });
      return h("div", { class: "thumb" }, video);
    }
    return h("div", { class: "thumb", "aria-hidden": "true" }, statusOf(gen) || "—");
  }

  async _cancel(gen) {
    try {
      await request("POST", `generations/${encodeURIComponent(gen.id)}/cancel`);
    } catch (err) {
      setStatus($("history-message"), `Could not cancel: ${err.message}`, "bad");
    }
    await this.load();
  }

  async _delete(gen) {
    const title = this.titleOf(gen.id) || `generation ${gen.id.slice(0, 8)}`;
    if (!window.confirm(`Delete ${title} and its video? This cannot be undone.`)) return;
    try {
      await request("DELETE", `generations/${encodeURIComponent(gen.id)}`);
      this.onDeleted(gen.id);
      setStatus($("history-message"), `Deleted ${title}.`);
    } catch (err) {
      setStatus($("history-message"), `Could not delete: ${err.message}${err.code ? ` (${err.code})` : ""}`, "bad");
    }
    await this.load();
    if (!this.items.length) setStatus($("history-message"), "No generations yet.");
  }
}
