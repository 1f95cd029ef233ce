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

/**
 * Loads thumbnails a few at a time, only when visible. Signed media links carry no API key, so they
 * count against the server's per-address limit for anonymous requests: a burst of a dozen videos
 * would be refused (429). A refused or failed thumbnail is retried once.
 */
class ThumbnailLoader {
  constructor(parallel = 2) {
    this.parallel = parallel;
    this.active = 0;
    this.queue = [];
    this.seen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.seen.unobserve(entry.target);
        this.queue.push({ video: entry.target, tries: 0 });
      }
      this._pump();
    }, { rootMargin: "200px" });
  }

  observe(video) {
    this.seen.observe(video);
  }

  _pump() {
    while (this.active < this.parallel && this.queue.length) {
      const job = this.queue.shift();
      if (!job.video.isConnected) continue;
      this.active += 1;
      let settled = false;
      const finish = (failed) => {
        if (settled) return;
        settled = true;
        this.active -= 1;
        if (failed && job.tries < 1) {
          job.tries += 1;
          setTimeout(() => {
            this.queue.push(job);
            this._pump();
          }, 2000);
        }
        this._pump();
      };
      job.video.addEventListener("loadeddata", () => finish(false), { once: true });
      job.video.addEventListener("error", () => finish(true), { once: true });
      setTimeout(() => finish(false), 5000); // never hold a slot forever
      job.video.src = job.video.dataset.src;
    }
  }
}

const thumbs = new ThumbnailLoader();

export class HistoryView {
  constructor({ onOpen, onDeleted, titleOf }) {
    this.onOpen = onOpen;
    this.onDeleted = onDeleted;
    this.titleOf = titleOf || (() => null);
    this.items = [];
    this.assetNames = new Map(); // asset id → file name, for readable titles
    this.next = null;
    this.currentId = null;
    this._timer = null;
    this._loading = null;
    $("history-refresh").addEventListener("click", () => this.load());
    $("history-status").addEventListener("change", () => this.load());
    $("history-more").addEventListener("click", () => this.load({ more: true }));
  }

  /** Reload from the top (as many rows as are shown, so "Load more" pages survive refreshes) or append. */
  async load({ more = false } = {}) {
    clearTimeout(this._timer);
    const limit = more ? PAGE : Math.min(100, Math.max(PAGE, this.items.length));
    const query = { limit, status: $("history-status").value, cursor: more ? this.next : null };
    const message = $("history-message");
    let retryMs = REFRESH_MS;
    try {
      const { items, next } = unpackList(await request("GET", "generations", { query }));
      this.items = more ? this.items.concat(items) : items;
      this.next = next;
      await this._learnAssetNames();
      setStatus(message, this.items.length ? "" : "No generations yet.");
      this.render();
    } catch (err) {
      setStatus(message, `Could not load the history: ${err.message}${err.code ? ` (${err.code})` : ""}`, "bad");
      if (err.status === 429) retryMs = 1000 * (err.retryAfter || 5);
    }
    // Keep statuses fresh while anything is still running (without re-rendering thumbnails needlessly).
    if (this.items.some((g) => !TERMINAL.has(statusOf(g)))) {
      this._timer = setTimeout(() => this.load(), retryMs);
    }
  }

  /** "face.mp4 + speech.wav", "face.png + “Hello there…”", or the short id when inputs are unknown. */
  title(gen) {
    const known = this.titleOf(gen.id);
    if (known) return known;
    const video = this.assetNames.get(gen.input?.video?.asset_id);
    const audio = gen.input?.audio || {};
    const speech = audio.text
      ? `“${audio.text.length > 24 ? `${audio.text.slice(0, 24)}…` : audio.text}”`
      : this.assetNames.get(audio.asset_id);
    return video && speech ? `${video} + ${speech}` : `Generation ${gen.id.slice(0, 8)}`;
  }

  /** One request for the names of the tenant's recent assets, only when a row needs one we lack. */
  async _learnAssetNames() {
    const ids = this.items.flatMap((g) => [g.input?.video?.asset_id, g.input?.audio?.asset_id]).filter(Boolean);
    if (ids.every((id) => this.assetNames.has(id))) return;
    try {
      const { items } = unpackList(await request("GET", "assets", { query: { limit: 100 } }));
      for (const asset of items) this.assetNames.set(asset.id, asset.name);
    } catch {
      /* titles fall back to ids */
    }
    for (const id of ids) if (!this.assetNames.has(id)) this.assetNames.set(id, null); // don't ask again
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
    const title = this.title(gen);
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
    // Rows outlive refreshes: act on the freshest copy of the job (its signed links are renewed).
    const latest = () => this.items.find((g) => g.id === gen.id) || gen;
    const actions = [button("open", "secondary", "Open", () => this.onOpen(latest()))];
    if (!TERMINAL.has(status)) actions.push(button("cancel", "secondary", "Cancel", () => this._cancel(gen)));
    actions.push(button("delete", "danger", "Delete", () => this._delete(gen)));
    return h("li", { class: "history-item", "data-id": gen.id, "data-key": key, "data-status": status },
      this._thumb(gen),
      h("div", { class: "history-info" },
        h("div", { class: "history-title", title }, title),
        h("div", { class: "history-facts" }, facts),
        status === "failed" && gen.error ? h("div", { class: "history-error" }, gen.error) : null),
      h("div", { class: "history-actions" }, actions));
  }

  /** Poster frame of the output: the browser decodes one frame at #t=0.5 (loaded when scrolled into view). */
  _thumb(gen) {
    if (gen.thumbnail_url) return h("img", { class: "thumb", src: gen.thumbnail_url, alt: "", loading: "lazy" });
    if (statusOf(gen) === "completed" && gen.video_url) {
      const video = h("video", { muted: true, preload: "metadata", playsInline: true, tabindex: "-1",
        "aria-hidden": "true" });
      video.dataset.src = `${gen.video_url}#t=0.5`;
      thumbs.observe(video);
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
    const title = this.title(gen);
    if (!window.confirm(`Delete ${title} and its video? This cannot be undone.`)) return;
    let outcome;
    try {
      await request("DELETE", `generations/${encodeURIComponent(gen.id)}`);
      this.onDeleted(gen.id);
      outcome = [`Deleted ${title}.`, ""];
    } catch (err) {
      outcome = [`Could not delete: ${err.message}${err.code ? ` (${err.code})` : ""}`, "bad"];
    }
    await this.load();
    setStatus($("history-message"), ...outcome); // after the reload, which resets the message
  }
}
