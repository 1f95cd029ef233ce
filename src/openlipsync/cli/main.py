"""``openlipsync``: thin commands that parse arguments, call the library and print."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from openlipsync.errors import LipSyncError
from openlipsync.options import LipSyncOptions, Model, SyncMode


def _fail(exc: LipSyncError) -> None:
    click.secho(f"error [{exc.code}]: {exc.message}", fg="red", err=True)
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openlipsync")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """openlipsync: lip-sync a talking-head video or a photo to new speech, offline on a CPU.

    \b
    Quick start:
      openlipsync demo                          lip-sync the bundled astronaut sample
      openlipsync run face.mp4 speech.wav -o out.mp4 [--model lipsync-2] [--sync-mode loop]
      openlipsync run photo.jpg -o out.mp4 --text "Hello there" --voice en-us
    \b
    Platform:
      openlipsync serve                         API (/v1, Sync-compatible /v2), web studio (/), a worker
      openlipsync worker                        extra workers (same DATABASE_URL/QUEUE_URL/STORAGE_URL)
      openlipsync keys create|list|revoke       API keys
    \b
    Measuring:
      openlipsync eval                          lip-sync quality (cross-segment reconstruction)
      openlipsync bench                         speed against the ffmpeg transcode floor, memory
    \b
    Maintenance:
      openlipsync cache info|clear              the analysis cache that repeated videos reuse
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


model_option = click.option(
    "--model", "-m", type=click.Choice([m.value for m in Model]), default=Model.LIPSYNC_2.value,
    show_default=True, help="Quality/speed tier (see README 'Models').")
sync_mode_option = click.option(
    "--sync-mode", type=click.Choice([m.value for m in SyncMode]), default=SyncMode.LOOP.value,
    show_default=True,
    help="When lengths differ: loop/bounce/remap follow the audio, cut_off takes the shorter, "
         "silence the longer (padding the shorter).")


def _run(video: Path, audio: Path, output: Path, options: LipSyncOptions, quiet: bool) -> None:
    from openlipsync.cli.progress import progress_bar
    from openlipsync.lipsync import lipsync

    started = time.perf_counter()
    try:
        with progress_bar(enabled=not quiet) as progress:
            result = lipsync(video, audio, output, options, progress=progress)
    except LipSyncError as exc:
        _fail(exc)
        return
    wall = time.perf_counter() - started
    rep = result.report
    click.echo(f"wrote {result.output} ({result.width}x{result.height}, {result.fps:g} fps, "
               f"{result.frame_count} frames, {result.duration_seconds:.2f}s) in {wall:.1f}s "
               f"= {result.duration_seconds / max(wall, 1e-9):.2f}x real time")
    offset = "n/a" if rep.av_offset_frames is None else f"{rep.av_offset_frames:+.1f} frames"
    click.echo(f"sync report: edited {rep.frames_edited}/{rep.frames_total} frames, AV offset {offset} "
               f"(confidence {rep.av_confidence:.2f})"
               + (f", passed through: {rep.pass_through_reasons}" if rep.pass_through_reasons else ""))


@cli.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.argument("audio", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output .mp4 path.")
@click.option("--text", help="Speak this text offline (espeak-ng) instead of giving AUDIO.")
@click.option("--voice", default="en-us", show_default=True,
              help="espeak-ng voice for --text, e.g. en-us, es, fr, de, cmn.")
@model_option
@sync_mode_option
@click.option("--temperature", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Expressiveness: how far the mouth moves around its resting shape.")
@click.option("--occlusion/--no-occlusion", default=False, help="Leave objects covering the mouth untouched.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run(video: Path, audio: Path | None, output: Path, text: str | None, voice: str, model: str,
        sync_mode: str, temperature: float, occlusion: bool, quiet: bool) -> None:
    """Lip-sync VIDEO (a video or photo) to AUDIO (audio file or a video's audio track) into OUTPUT.

    A video's analysis (face track, mouth library, calibration) is cached, so the same video with new
    speech skips its tracking pass: OPENLIPSYNC_ANALYSIS_CACHE=<dir> or =off (default
    ~/.cache/openlipsync/analysis, 2 GiB; OPENLIPSYNC_ANALYSIS_CACHE_MB).

    Exit codes: 0 done, 2 bad input, 3 no usable face, 4 processing failed, 6 setup problem.
    """
    if (audio is None) == (text is None):
        raise click.UsageError("give either AUDIO or --text")
    options = LipSyncOptions(model=Model(model), sync_mode=SyncMode(sync_mode), temperature=temperature,
                             occlusion_detection=occlusion)
    if text is None:
        assert audio is not None
        _run(video, audio, output, options, quiet)
        return
    import tempfile

    from openlipsync.media.tts import synthesize

    with tempfile.TemporaryDirectory(prefix="openlipsync-tts-") as tmp:
        try:
            speech = synthesize(text, Path(tmp) / "speech.wav", voice=voice)
        except LipSyncError as exc:
            _fail(exc)
            return
        _run(video, speech, output, options, quiet)


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("openlipsync-demo.mp4"),
              show_default=True, help="Where to write the demo video.")
@model_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def demo(output: Path, model: str, quiet: bool) -> None:
    """Lip-sync the bundled public-domain astronaut portrait to offline synthesised speech."""
    from openlipsync.samples import demo_inputs

    try:
        image, speech = demo_inputs(Path.home() / ".cache" / "openlipsync" / "samples")
    except LipSyncError as exc:
        _fail(exc)
        return
    _run(image, speech, output, LipSyncOptions(model=Model(model)), quiet)
    click.echo(f"demo video: {output.resolve()}")


from openlipsync.cli.eval_cmd import eval_cmd  # noqa: E402

cli.add_command(eval_cmd)

from openlipsync.cli.bench_cmd import bench_cmd  # noqa: E402
from openlipsync.cli.cache_cmd import cache_cmd  # noqa: E402

cli.add_command(bench_cmd)
cli.add_command(cache_cmd)


from openlipsync.cli.keys_cmd import keys  # noqa: E402
from openlipsync.cli.serve_cmd import serve  # noqa: E402
from openlipsync.cli.worker_cmd import worker  # noqa: E402

cli.add_command(serve)
cli.add_command(worker)
cli.add_command(keys)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
