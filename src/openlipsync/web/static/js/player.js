// Side-by-side playback: one set of controls drives the result video and the original (video or photo).
// The result is the master clock (it carries the new speech); the original follows it, muted.

import { formatClock } from "./format.js";

// Beyond SEEK_DRIFT seconds the follower is re-seeked; smaller drift is absorbed by nudging its playback
// rate (seeking every few frames would stutter, since each seek decodes from the previous keyframe).
const SEEK_DRIFT = 0.4;
const SETTLED_DRIFT = 0.015;
const MAX_NUDGE = 0.25;

/** Map the master's time onto the original, following the job's sync_mode. */
export function followerTime(t, masterDuration, followerDuration, mode) {
  if (!Number.isFinite(followerDuration) || followerDuration <= 0) return 0;
  if (mode === "remap" && Number.isFinite(masterDuration) && masterDuration > 0) {
    return Math.min(followerDuration, (t * followerDuration) / masterDuration);
  }
  if (t <= followerDuration) return t;
  if (mode === "bounce") {
    const period = 2 * followerDuration;
    const phase = t % period;
    return phase <= followerDuration ? phase : period - phase;
  }
  if (mode === "loop") return t % followerDuration;
  return followerDuration; // cut_off / silence: the original holds its last frame
}

export class ComparePlayer {
  constructor(el) {
    this.el = el; // {master, follower, image, compare, play, seek, time, mute, back, next, speed}
    this.mode = "loop";
    this.fps = 25;
    this._raf = null;
    const { master, play, seek, mute } = el;
    play.addEventListener("click", () => this.toggle());
    el.back.addEventListener("click", () => this.step(-1));
    el.next.addEventListener("click", () => this.step(1));
    el.speed.addEventListener("change", () => {
      master.playbackRate = Number(el.speed.value) || 1;
    });
    seek.addEventListener("input", () => this.seek(Number(seek.value)));
    mute.addEventListener("change", () => {
      master.muted = mute.checked;
    });
    master.addEventListener("loadedmetadata", () => {
      // Size both frames to the video's own shape (the original has the same size and aspect).
      if (master.videoWidth && master.videoHeight) {
        el.compare.style.setProperty("--ratio", `${master.videoWidth} / ${master.videoHeight}`);
      }
      this._render();
    });
    master.addEventListener("durationchange", () => this._render());
    master.addEventListener("timeupdate", () => this._render());
    master.addEventListener("play", () => this._onPlay());
    master.addEventListener("pause", () => this._onPause());
    master.addEventListener("ended", () => this._onPause());
    master.addEventListener("seeked", () => this._follow(true));
    master.addEventListener("ratechange", () => {
      el.follower.playbackRate = master.playbackRate;
    });
  }

  /** Load a result URL and the original ({kind: "video"|"image", url, fps?} or null). */
  load(resultUrl, original, mode = "loop") {
    const { master, follower, image } = this.el;
    this.mode = mode || "loop";
    this.fps = Number(original?.fps) > 0 ? Number(original.fps) : 25; // the output keeps the input's fps
    master.pause();
    master.src = resultUrl;
    master.load();
    follower.hidden = true;
    image.hidden = true;
    follower.removeAttribute("src");
    if (original && original.kind === "image") {
      image.src = original.url;
      image.hidden = false;
    } else if (original && original.url) {
      follower.src = original.url;
      follower.muted = true;
      follower.hidden = false;
      follower.load();
    }
    this.el.compare.classList.toggle("single", !original);
    this._render();
  }

  unload() {
    const { master, follower } = this.el;
    master.pause();
    follower.pause();
    master.removeAttribute("src");
    follower.removeAttribute("src");
    master.load();
  }

  toggle() {
    if (this.el.master.paused) this.play();
    else this.el.master.pause();
  }

  play() {
    return this.el.master.play().catch(() => {
      /* autoplay refused or source gone; the controls stay usable */
    });
  }

  /** Pause and move both videos by whole frames (to compare mouth shapes frame by frame). */
  step(frames) {
    const { master } = this.el;
    master.pause();
    const frame = Math.floor(master.currentTime * this.fps + 1e-6) + frames;
    // Aim at the middle of the frame so that rounding never lands on its neighbour.
    this.seek((Math.max(0, frame) + 0.5) / this.fps);
  }

  seek(t) {
    const { master } = this.el;
    master.currentTime = Math.max(0, Math.min(t, master.duration || 0));
    this._follow(true);
    this._render();
  }

  _hasFollower() {
    const { follower } = this.el;
    return !follower.hidden && follower.getAttribute("src");
  }

  _onPlay() {
    this.el.play.textContent = "Pause";
    this.el.play.setAttribute("aria-pressed", "true");
    this._follow(true);
    if (this._hasFollower()) this.el.follower.play().catch(() => {});
    const tick = () => {
      this._follow(false);
      this._render();
      this._raf = requestAnimationFrame(tick);
    };
    cancelAnimationFrame(this._raf);
    this._raf = requestAnimationFrame(tick);
  }

  _onPause() {
    this.el.play.textContent = "Play";
    this.el.play.setAttribute("aria-pressed", "false");
    cancelAnimationFrame(this._raf);
    if (this._hasFollower()) this.el.follower.pause();
    this._follow(true);
    this._render();
  }

  /** Keep the original on the master's clock: seek on large drift, otherwise speed it up or slow it down. */
  _follow(force) {
    if (!this._hasFollower()) return;
    const { master, follower } = this.el;
    const target = followerTime(master.currentTime, master.duration, follower.duration, this.mode);
    if (!Number.isFinite(target)) return;
    const drift = target - follower.currentTime; // > 0: the original is behind
    if (force || master.paused || Math.abs(drift) > SEEK_DRIFT) {
      follower.currentTime = target;
      follower.playbackRate = master.playbackRate;
    } else if (Math.abs(drift) > SETTLED_DRIFT) {
      const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, drift * 2));
      follower.playbackRate = master.playbackRate * (1 + nudge);
    } else {
      follower.playbackRate = master.playbackRate;
    }
    const atEnd = target >= (follower.duration || 0) - 0.02 && this.mode !== "loop" && this.mode !== "bounce";
    if (!master.paused && follower.paused && !atEnd) follower.play().catch(() => {});
  }

  _render() {
    const { master, seek, time } = this.el;
    const duration = Number.isFinite(master.duration) ? master.duration : 0;
    seek.max = duration.toFixed(2);
    seek.value = master.currentTime.toFixed(2);
    seek.setAttribute("aria-valuetext", `${formatClock(master.currentTime)} of ${formatClock(duration)}`);
    time.textContent = `${formatClock(master.currentTime)} / ${formatClock(duration)}`;
  }
}
