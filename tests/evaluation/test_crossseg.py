import math

from openlipsync.evaluation.crossseg import RunRow, summarize


def _row(direction: str, offset: int | None, real: int | None, corr: float) -> RunRow:
    err = None if offset is None or real is None else float(offset - real)
    return RunRow("clip", direction, "lipsync-2", correlation=corr, av_offset=offset, av_offset_real=real,
                  av_error=err, frames=10, frames_expected=10)


def test_median_row_takes_magnitudes_of_offsets_and_of_errors_against_the_real_video():
    rows = [_row("A<-B", -5, -5, 0.2), _row("B<-A", 3, 1, 0.4), _row("A<-B", -1, 2, 0.6), _row("B<-A", None, 0, 0.8)]
    (median,) = summarize(rows)
    assert median.clip == "median" and median.direction == "4 runs"
    assert median.av_offset == 3  # |-5|, |3|, |-1|
    assert median.av_offset_real == 1.5  # |-5|, |1|, |2|, |0|
    assert median.av_error == 2  # |0|, |2|, |-3|: a lag the real speaker shares is no sync error
    assert math.isclose(median.correlation, 0.5) and median.frames == 40


def test_median_row_has_no_error_when_no_run_could_measure_it():
    (median,) = summarize([_row("A<-B", None, None, 0.3)])
    assert median.av_error is None and median.av_offset is None
