// The current generation: live progress by polling, errors, cancel, and the result beside the original.

import { ApiError, request } from "./api.js";
import { describeStage, describeSyncReport, formatCost, formatSeconds } from "./format.js";
import { ComparePlayer } from "./player.js";
import { $, showError, statusOf, TERMINAL } from "./ui.js";

const POLL_MS = 1000;

/** "12 s since submitted" while running, "took 48 s" when done (not in a live region: it ticks). */
export function elapsedText(gen, status, now = Date.now()) {
  const created = Date.parse(gen.created_at);
  if (!Number.isFinite(created)) return "";
  const done = Date.parse(gen.completed_at);
  const end = TERMINAL.has(status) ? done : now;
  if (!Number.isFinite(end)) return "";
  const seconds = Math.max(0, Math.round((end - created) / 1000));
  const span = seconds < 90 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return TERMINAL.has(status) ? `· took ${span}` : `· ${span} since submitted`;
}

export class JobView {
  constructor({ onChange } = {}) {
    this.onChange = onChange || (() => {});
    this.gen = null;
    this.original = null;
    this._timer = null;
    this._shownResult = null;
    this.player = new ComparePlayer({
      master: $("result-video"), follower: $("orig-video"), image: $("orig-image"), compare: $("compare"),
      play: $("play-toggle"), seek: $("seek"), time: $("play-time"), mute: $("mute"),
      back: $("frame-back"), next: $("frame-next"), speed: $("speed"),
    });
    $("job-cancel").addEventListener("click", () => this.cancel());
  }

  get id() {
    return this.gen?.id || null;
  }

  /** Show a generation (fresh from create, or opened from history); poll until it ends. */
  show(gen, original = null) {
    const switching = gen.id !== this.id;
    if (switching) {
      this._stopPolling();
      this._shownResult = null;
      this.player.unload();
      $("result").hidden = true;
      this.original = original;
    } else if (original) {
      this.original = original;
    }
    $("job-empty").hidden = true;
    $("job-body").hidden = false;
    this._render(gen);
    if (!TERMINAL.has(statusOf(gen))) this._schedule();
  }

  async cancel() {
    if (!this.gen) return;
    const button = $("job-cancel");
    button.disabled = true;
    try {
      const gen = await request("POST", `generations/${encodeURIComponent(this.gen.id)}/cancel`);
      this._render(gen && gen.id ? gen : await this._fetch());
      this.onChange(this.gen);
    } catch (err) {
      showError($("job-error"), err, "Could not cancel: ");
    } finally {
      button.disabled = false;
    }
  }

  /** Forget the shown job (after it was deleted). */
  clear() {
    this._stopPolling();
    this.player.unload();
    this.gen = null;
    this._shownResult = null;
    $("job-body").hidden = true;
    $("job-empty").hidden = false;
  }

  async _fetch() {
    return request("GET", `generations/${encodeURIComponent(this.gen.id)}`);
  }

  _schedule(delay = POLL_MS) {
    this._stopPolling();
    this._timer = setTimeout(() => this._poll(), delay);
  }

  _stopPolling() {
    clearTimeout(this._timer);
    this._timer = null;
  }

  async _poll() {
    const id = this.id;
    try {
      const gen = await this._fetch();
      if (id !== this.id) return; // another job was opened meanwhile
      const changed = statusOf(gen) !== statusOf(this.gen);
      this._render(gen);
      if (changed) this.onChange(gen);
      if (TERMINAL.has(statusOf(gen))) return;
    } catch (err) {
      if (id !== this.id) return;
      // A transient network error must not stop the live view; an auth or 404 error ends it.
      if (err instanceof ApiError && [401, 403, 404].includes(err.status)) {
        showError($("job-error"), err);
        return;
      }
      if (err instanceof ApiError && err.status === 429) {
        // Rate limited: wait as long as the server asks before polling again.
        $("job-stage").textContent = `The server asked to slow down; checking again in ${err.retryAfter || 2} s…`;
        this._schedule(1000 * (err.retryAfter || 2));
        return;
      }
      $("job-stage").textContent = `Connection problem (${err.message}); retrying…`;
    }
    this._schedule();
  }

  _render(gen) {
    this.gen = gen;
    const status = statusOf(gen);
    const badge = $("job-status");
    badge.textContent = status || "unknown";
    badge.className = `badge ${status}`;
    const facts = [gen.model, gen.duration_seconds != null ? formatSeconds(gen.duration_seconds) : null,
      gen.cost != null ? formatCost(gen.cost) : null].filter(Boolean);
    $("job-meta").textContent = facts.join(" · ");
    $("job-title").textContent = status === "completed" ? "Result" : "Generation";
    this._renderProgress(gen, status);
    $("job-elapsed").textContent = elapsedText(gen, status);
    const failed = status === "failed" || status === "canceled" || status === "rejected";
    showError($("job-error"), failed ? { message: gen.error || "The generation failed.", code: gen.error_code } : null);
    const cancel = $("job-cancel");
    if (TERMINAL.has(status) && document.activeElement === cancel) $("job-title").focus(); // don't drop focus
    cancel.hidden = TERMINAL.has(status);
    if (status === "completed" && gen.video_url) this._showResult(gen);
  }

  _renderProgress(gen, status) {
    const progress = gen.progress || {};
    const bar = $("job-progress");
    const stage = $("job-stage");
    $("job-progress-wrap").hidden = TERMINAL.has(status);
    if (status === "pending") {
      bar.removeAttribute("value"); // indeterminate while queued
      stage.textContent = `${describeStage(progress.stage || "queued")}…`;
      return;
    }
    const percent = Math.max(0, Math.min(100, Number(progress.percent ?? 0)));
    bar.value = percent;
    bar.setAttribute("aria-valuetext", `${Math.round(percent)} percent`);
    stage.textContent = `${describeStage(progress.stage) || "Working"} — ${Math.round(percent)}%`;
  }

  _showResult(gen) {
    $("result").hidden = false;
    $("download").href = gen.video_url;
    $("download").setAttribute("download", `${gen.output_file_name || gen.id}.mp4`);
    $("sync-report").textContent = describeSyncReport(gen.sync_report) || "No sync report was recorded.";
    if (this._shownResult === gen.id) return; // keep playback position on later polls
    this._shownResult = gen.id;
    const mode = gen.options?.sync_mode || "loop";
    this.player.load(gen.video_url, this.original, mode);
  }
}
