// Pure formatting helpers: numbers, times, stages and the sync report in plain words.

export function formatCost(cost) {
  if (cost === null || cost === undefined || Number.isNaN(Number(cost))) return "—";
  const value = Number(cost);
  return value < 0.01 && value > 0 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
  return `${Number(seconds).toFixed(1)} s`;
}

/** m:ss clock for the player. */
export function formatClock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const STAGES = {
  queued: "Waiting in the queue",
  pending: "Waiting in the queue",
  fetch: "Fetching the inputs",
  download: "Fetching the inputs",
  tts: "Speaking the text",
  starting: "Starting",
  probe: "Checking the inputs",
  analyse: "Finding and tracking the face",
  analyze: "Finding and tracking the face",
  decode: "Reading the video",
  faces: "Finding and tracking the face",
  detect: "Finding and tracking the face",
  track: "Finding and tracking the face",
  audio: "Listening to the speech",
  plan: "Planning mouth shapes",
  render: "Drawing the mouth",
  blend: "Blending into the frames",
  encode: "Writing the video",
  upload: "Saving the result",
  store: "Saving the result",
  done: "Finished",
};

/** A readable name for a pipeline stage reported in progress.stage. */
export function describeStage(stage) {
  if (!stage) return "";
  return STAGES[stage] || String(stage).replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase());
}

const REASONS = {
  no_face: "had no usable face",
  noface: "had no usable face",
  face_not_found: "had no usable face",
  face_too_small: "had a face too small to edit",
  too_small: "had a face too small to edit",
  other_face: "showed only faces other than the active speaker",
  small_face: "had a face too small to edit",
  profile: "showed the face too far in profile",
  extreme_pose: "showed the face too far in profile",
  pose: "showed the face too far in profile",
  out_of_frame: "had the mouth outside the picture",
  occluded: "had the mouth covered",
  occlusion: "had the mouth covered",
  low_confidence: "had an uncertain face detection",
  outside_segment: "were outside the audio segments",
  outside_segments: "were outside the audio segments",
  scene_cut: "were at a scene cut",
  silence: "were silent (mouth left at rest)",
};

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function reasonPhrase(reason, count) {
  const words = REASONS[reason] || `were left unchanged (${String(reason).replace(/_/g, " ")})`;
  // "10 frames had no usable face" reads right for any count; fix the verb for singular counts.
  const phrase = count === 1 ? words.replace(/^were /, "was ") : words;
  return `${plural(count, "frame", "frames")} ${phrase}`;
}

/**
 * The sync report in sentences, e.g. "Edited 240 of 250 frames; 10 frames had no usable face.
 * Audio and mouth are aligned within 1 frame (confidence 0.80)."
 */
export function describeSyncReport(report) {
  if (!report || typeof report !== "object") return "";
  const sentences = [];
  const total = Number(report.frames_total ?? 0);
  const edited = Number(report.frames_edited ?? 0);
  const passed = Number(report.frames_passed_through ?? Math.max(total - edited, 0));
  if (total > 0) {
    let first = `Edited ${edited} of ${plural(total, "frame", "frames")}`;
    const reasons = Object.entries(report.pass_through_reasons || {}).filter(([, n]) => Number(n) > 0);
    if (reasons.length) {
      first += "; " + reasons.map(([reason, n]) => reasonPhrase(reason, Number(n))).join(", ");
    } else if (passed > 0) {
      first += `; ${plural(passed, "frame was", "frames were")} left unchanged`;
    }
    sentences.push(first + ".");
  }
  sentences.push(describeOffset(report.av_offset_frames, report.av_confidence));
  if (Number(report.face_count_max) > 1) {
    sentences.push(`Up to ${report.face_count_max} faces were seen; only the active speaker was edited.`);
  }
  // Engine notes are either sentences or "key=value" facts (renderer=warp); list the facts last, in words.
  const facts = [];
  for (const note of report.notes || []) {
    const text = String(note).trim();
    const fact = /^([a-z_]+)=(\S+)$/i.exec(text);
    if (fact) facts.push(`${fact[1].replace(/_/g, " ")} ${fact[2]}`);
    else if (text) sentences.push(text.replace(/([^.!?])$/, "$1."));
  }
  if (facts.length) sentences.push(`Engine: ${facts.join(", ")}.`);
  return sentences.filter(Boolean).join(" ");
}

function describeOffset(offset, confidence) {
  const conf = Number.isFinite(Number(confidence)) ? ` (confidence ${Number(confidence).toFixed(2)})` : "";
  if (offset === null || offset === undefined || !Number.isFinite(Number(offset))) {
    return "The audio-to-mouth offset could not be measured (too little speech or movement).";
  }
  const lag = Math.abs(Number(offset));
  if (lag <= 1) return `Audio and mouth are aligned within 1 frame${conf}.`;
  const which = Number(offset) > 0 ? "the mouth trails the audio" : "the mouth leads the audio";
  return `Audio and mouth are ${lag.toFixed(1)} frames apart: ${which}${conf}.`;
}
