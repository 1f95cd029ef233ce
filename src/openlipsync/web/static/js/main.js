// Entry point: API key handling and the wiring between the form, the job view and the history.

import { forgetKey, getKey, request, setKey } from "./api.js";
import { GenerationForm } from "./form.js";
import { HistoryView } from "./history.js";
import { JobView } from "./job.js";
import { $, setStatus } from "./ui.js";

const titles = new Map(); // job id → "face.mp4 + speech.wav" for jobs created in this tab
const originals = new Map(); // job id → {kind, url} of the local original, for side-by-side playback

const job = new JobView({ onChange: () => historyView.load() });
const historyView = new HistoryView({
  titleOf: (id) => titles.get(id),
  onOpen: async (gen) => {
    job.show(gen, originals.get(gen.id) || (await originalOf(gen)));
    historyView.markCurrent(gen.id);
    $("job").scrollIntoView({ block: "start" });
    $("job-title").focus({ preventScroll: true });
  },
  onDeleted: (id) => {
    if (job.id === id) job.clear();
  },
});
new GenerationForm({
  onCreated: (gen, original, title) => {
    if (title) titles.set(gen.id, title);
    if (original) originals.set(gen.id, original);
    job.show(gen, original);
    historyView.currentId = gen.id;
    historyView.load();
    $("job").scrollIntoView({ block: "start", behavior: "smooth" });
  },
});

/** The stored visual input of a job opened from history (its asset's signed link), or null. */
async function originalOf(gen) {
  const assetId = gen.input?.video?.asset_id;
  if (!assetId) return null;
  try {
    const asset = await request("GET", `assets/${encodeURIComponent(assetId)}`);
    return asset?.url ? { kind: asset.type === "image" ? "image" : "video", url: asset.url, fps: asset.fps } : null;
  } catch {
    return null; // the input was deleted: show the result alone
  }
}

async function checkKey() {
  const status = $("key-status");
  if (!getKey()) {
    setStatus(status, "No key saved: paste an API key to start.", "bad");
    return false;
  }
  setStatus(status, "Checking the key…");
  try {
    await request("GET", "generations", { query: { limit: 1 } });
    setStatus(status, "Key saved in this browser and accepted by the server.", "ok");
    return true;
  } catch (err) {
    setStatus(status, `${err.message}${err.code ? ` (${err.code})` : ""}`, "bad");
    return false;
  }
}

$("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const value = $("api-key").value.trim();
  if (!value) {
    setStatus($("key-status"), "Paste a key first.", "bad");
    $("api-key").focus();
    return;
  }
  setKey(value);
  if (await checkKey()) historyView.load();
});
$("key-forget").addEventListener("click", () => {
  forgetKey();
  $("api-key").value = "";
  checkKey();
  $("api-key").focus();
});
$("key-show").addEventListener("click", () => {
  const input = $("api-key");
  const show = input.type === "password";
  input.type = show ? "text" : "password";
  $("key-show").textContent = show ? "Hide" : "Show";
  $("key-show").setAttribute("aria-pressed", String(show));
});

/**
 * `openlipsync serve` prints a link with the first key in the fragment (`/#key=ols_…`). A fragment is
 * never sent to the server; store the key and remove it from the address bar and history.
 */
function adoptKeyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (!key) return;
  setKey(key);
  params.delete("key");
  const rest = params.toString();
  window.history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
}

adoptKeyFromFragment();
$("api-key").value = getKey();
checkKey().then((ok) => {
  if (ok) historyView.load();
});
document.documentElement.dataset.ready = "true"; // lets tests (and users of assistive tech) know we are live
