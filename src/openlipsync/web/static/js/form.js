// The "New generation" form: uploads inputs as assets, shows the cost estimate, submits the job.

import { request, upload } from "./api.js";
import { formatBytes, formatCost, formatSeconds } from "./format.js";
import { $, setStatus, showError } from "./ui.js";

const MODEL_HELP = {
  "lipsync-1.9": "Fastest: warps the existing lips only. Good for previews and long drafts.",
  "lipsync-2": "Re-uses the speaker's own mouth from other frames: sharp teeth and true lip colour.",
  "lipsync-2-pro": "Like lipsync-2 with the best blending and detail; slower.",
  "sync-3": "Also moves the jaw and cheeks, and copes with harder head poses.",
  "react-1": "Also adds expression and head motion driven by the audio; choose what may move.",
};

const SYNC_MODE_HELP = {
  loop: "The video restarts from the beginning until the audio ends.",
  bounce: "The video plays forward, then backward, until the audio ends.",
  cut_off: "Stops at whichever of video and audio is shorter.",
  silence: "Keeps the longer one: silent audio or a still, resting face fills the gap.",
  remap: "Speeds the video up or down so it lasts exactly as long as the audio.",
};

const IMAGE_EXT = /\.(png|jpe?g|webp)$/i;

/** One file input that uploads its file as an asset as soon as it is chosen. */
class AssetField {
  constructor(input, statusEl, onChange) {
    this.input = input;
    this.statusEl = statusEl;
    this.onChange = onChange;
    this.file = null;
    this.asset = null;
    this.error = null;
    this.uploading = null;
    this.objectUrl = null;
    this.kept = false;
    input.addEventListener("change", () => this.choose(input.files[0] || null));
  }

  get kind() {
    if (!this.file) return null;
    if (this.file.type.startsWith("image/") || IMAGE_EXT.test(this.file.name)) return "image";
    if (this.file.type.startsWith("audio/")) return "audio";
    return "video";
  }

  async choose(file) {
    // A submitted job keeps showing this file as its original: only free URLs nobody refers to.
    if (this.objectUrl && !this.kept) URL.revokeObjectURL(this.objectUrl);
    this.kept = false;
    this.file = file;
    this.asset = null;
    this.error = null;
    this.objectUrl = file ? URL.createObjectURL(file) : null;
    this.input.removeAttribute("aria-invalid");
    if (!file) {
      setStatus(this.statusEl, "");
      this.onChange();
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    setStatus(this.statusEl, `Uploading ${file.name}…`);
    this.onChange();
    const attempt = upload("assets", form, (fraction) => {
      setStatus(this.statusEl, `Uploading ${file.name}… ${Math.round(fraction * 100)}%`);
    });
    this.uploading = attempt;
    try {
      const asset = await attempt;
      if (this.uploading !== attempt) return; // a newer file was chosen meanwhile
      this.asset = asset;
      setStatus(this.statusEl, `Uploaded ${file.name} (${this._describe(asset, file)})`, "ok");
    } catch (err) {
      if (this.uploading !== attempt) return;
      this.error = err;
      this.input.setAttribute("aria-invalid", "true");
      setStatus(this.statusEl, `${file.name}: ${err.message}${err.code ? ` [${err.code}]` : ""}`, "bad");
    } finally {
      if (this.uploading === attempt) this.uploading = null;
      this.onChange();
    }
  }

  _describe(asset, file) {
    const media = { ...(asset?.media || {}), ...(asset || {}) };
    const parts = [formatBytes(asset?.size ?? file.size)];
    const duration = media.duration_seconds ?? media.duration;
    if (Number.isFinite(Number(duration)) && Number(duration) > 0) parts.push(formatSeconds(duration));
    if (media.width && media.height) parts.push(`${media.width}×${media.height}`);
    return parts.join(", ");
  }

  reset() {
    this.input.value = "";
    this.choose(null);
  }
}

export class GenerationForm {
  constructor({ onCreated }) {
    this.onCreated = onCreated;
    this.form = $("gen-form");
    this._estimateSeq = 0;
    this._estimateTimer = null;
    this.visual = new AssetField($("visual-file"), $("visual-status"), () => this._visualChanged());
    this.audio = new AssetField($("audio-file"), $("audio-status"), () => this._audioChanged());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.form.addEventListener("input", (e) => this._optionChanged(e));
    this.form.addEventListener("change", (e) => this._optionChanged(e));
    for (const preview of [$("visual-preview-video"), $("visual-preview-image")]) {
      preview.addEventListener("click", (e) => this._pickSpeaker(e));
    }
    this._renderHelp();
  }

  get speech() {
    return this.form.elements.speech.value;
  }

  /** The native /v1 create body for the current form state (also sent to the estimate endpoint). */
  body() {
    // A photo goes in the "video" slot too: the API probes it and treats it as a still image.
    const video = { asset_id: this.visual.asset?.id };
    const audio = this.speech === "text"
      ? { text: $("speech-script").value.trim(), voice: $("speech-voice").value }
      : { asset_id: this.audio.asset?.id };
    const options = {
      sync_mode: $("sync-mode").value,
      temperature: Number($("temperature").value),
      occlusion_detection_enabled: $("occlusion").checked,
      active_speaker_detection: this._speaker(),
    };
    const model = $("model").value;
    if (model === "react-1") {
      options.model_mode = $("model-mode").value;
      if ($("emotion").value) options.prompt = $("emotion").value;
    }
    const body = { model, video, audio, options };
    const name = $("output-name").value.trim();
    const webhook = $("webhook-url").value.trim();
    if (name) body.output_file_name = name;
    if (webhook) body.webhook_url = webhook;
    return body;
  }

  _speaker() {
    if ($("speaker-mode").value !== "point") return { auto_detect: true };
    const x = Number($("speaker-x").value);
    const y = Number($("speaker-y").value);
    if (!$("speaker-x").value || !$("speaker-y").value) return { auto_detect: true };
    return { auto_detect: false, frame_number: Number($("speaker-frame").value || 0), coordinates: [x, y] };
  }

  /** Why the form cannot be submitted yet, or null when it can. */
  missing() {
    if (this.visual.uploading || this.audio.uploading) return "Waiting for the upload to finish.";
    if (this.visual.error) return "The face file was not accepted; choose another.";
    if (!this.visual.asset) return "Choose a video or photo of the speaker.";
    if (this.speech === "text") {
      if (!$("speech-script").value.trim()) return "Type the text to speak.";
    } else {
      if (this.audio.error) return "The audio file was not accepted; choose another.";
      if (!this.audio.asset) return "Choose an audio file, or type text.";
    }
    return null;
  }

  /** The original for side-by-side playback (a local object URL: no second download). */
  original() {
    if (!this.visual.objectUrl) return null;
    const kind = (this.visual.asset?.type || this.visual.kind) === "image" ? "image" : "video";
    return { kind, url: this.visual.objectUrl, fps: this.visual.asset?.fps };
  }

  title() {
    const script = $("speech-script").value.trim();
    const speech = this.speech === "text" ? `“${script.length > 24 ? `${script.slice(0, 24)}…` : script}”`
      : this.audio.file?.name;
    return [this.visual.file?.name, speech].filter(Boolean).join(" + ");
  }

  async submit() {
    const why = this.missing();
    if (why) {
      showError($("form-error"), { message: why });
      return;
    }
    const button = $("submit");
    button.disabled = true;
    button.textContent = "Submitting…";
    showError($("form-error"), null);
    try {
      const gen = await request("POST", "generations", { json: this.body() });
      this.visual.kept = true;
      this.onCreated(gen, this.original(), this.title());
    } catch (err) {
      showError($("form-error"), err);
    } finally {
      button.textContent = "Generate";
      this._refreshState({ keepError: true });
    }
  }

  _visualChanged() {
    const video = $("visual-preview-video");
    const image = $("visual-preview-image");
    const kind = this.visual.kind;
    $("visual-preview").hidden = !this.visual.objectUrl || Boolean(this.visual.error);
    video.hidden = kind !== "video";
    image.hidden = kind !== "image";
    if (kind === "video" && video.dataset.src !== this.visual.objectUrl) {
      video.src = this.visual.objectUrl;
      video.dataset.src = this.visual.objectUrl;
    } else if (kind === "image") {
      image.src = this.visual.objectUrl;
    }
    this._refreshState();
  }

  _audioChanged() {
    const preview = $("audio-preview");
    preview.hidden = !this.audio.objectUrl;
    if (this.audio.objectUrl && preview.dataset.src !== this.audio.objectUrl) {
      preview.src = this.audio.objectUrl;
      preview.dataset.src = this.audio.objectUrl;
    }
    this._refreshState();
  }

  _optionChanged(event) {
    if (event.target.type === "file") return; // handled by AssetField
    this._renderHelp();
    this._refreshState();
  }

  _renderHelp() {
    const model = $("model").value;
    $("model-help").textContent = MODEL_HELP[model] || "";
    $("react-options").hidden = model !== "react-1";
    $("sync-mode-help").textContent = SYNC_MODE_HELP[$("sync-mode").value] || "";
    $("temperature-value").textContent = Number($("temperature").value).toFixed(2);
    const text = this.speech === "text";
    $("speech-audio").hidden = text;
    $("speech-text").hidden = !text;
    const picking = $("speaker-mode").value === "point";
    $("speaker-point").hidden = !picking;
    $("visual-preview").classList.toggle("picking", picking);
  }

  /** Clicking the preview picks the active speaker (coordinates in the video's own pixels). */
  _pickSpeaker(event) {
    if ($("speaker-mode").value !== "point") return;
    const el = event.currentTarget;
    const natW = el.videoWidth || el.naturalWidth;
    const natH = el.videoHeight || el.naturalHeight;
    if (!natW || !natH) return;
    event.preventDefault();
    // object-fit: contain letterboxes the media inside the element box.
    const box = el.getBoundingClientRect();
    const scale = Math.min(box.width / natW, box.height / natH);
    const offX = (box.width - natW * scale) / 2;
    const offY = (box.height - natH * scale) / 2;
    const x = (event.clientX - box.left - offX) / scale;
    const y = (event.clientY - box.top - offY) / scale;
    if (x < 0 || y < 0 || x > natW || y > natH) return;
    $("speaker-x").value = Math.round(x);
    $("speaker-y").value = Math.round(y);
    const fps = Number(this.visual.asset?.fps ?? this.visual.asset?.media?.fps) || 25;
    $("speaker-frame").value = el.tagName === "VIDEO" ? Math.round(el.currentTime * fps) : 0;
    this._refreshState();
  }

  _refreshState({ keepError = false } = {}) {
    const why = this.missing();
    $("submit").disabled = Boolean(why);
    $("submit").title = why || "";
    if (!why && !keepError) showError($("form-error"), null); // the user changed something: stale error
    clearTimeout(this._estimateTimer);
    if (why) {
      this._estimateSeq += 1;
      this._showEstimate(null, why);
      return;
    }
    // Text is synthesised for each estimate: wait until typing pauses.
    const delay = this.speech === "text" ? 700 : 250;
    this._estimateTimer = setTimeout(() => this._estimate(), delay);
  }

  async _estimate() {
    const seq = ++this._estimateSeq;
    $("estimate-detail").textContent = "Estimating…";
    try {
      const estimate = await request("POST", "generations/estimate", { json: this.body() });
      if (seq === this._estimateSeq) this._showEstimate(estimate);
    } catch (err) {
      if (seq === this._estimateSeq) {
        this._showEstimate(null, `No estimate: ${err.message}${err.code ? ` [${err.code}]` : ""}`);
      }
    }
  }

  _showEstimate(estimate, detail = "") {
    $("estimate-cost").textContent = formatCost(estimate ? estimate.cost : null);
    if (!estimate) {
      $("estimate-detail").textContent = detail;
      return;
    }
    const parts = [`${formatSeconds(estimate.duration_seconds)} of video`];
    if (estimate.frame_count != null) parts.push(`${estimate.frame_count} frames`);
    if (estimate.price_per_second != null) parts.push(`${estimate.model} at ${formatCost(estimate.price_per_second)}/s`);
    $("estimate-detail").textContent = parts.join(" · ");
  }
}
