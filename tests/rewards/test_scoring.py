"""Batch scoring in worker processes: timeouts, crashes, recovery, any-thread use."""

import threading

import sample_plugin

from rewards.scoring import BatchScorer


def scorer(**kw):
    verifiers = {
        "hang": sample_plugin.Hang(),
        "boom": sample_plugin.Boom(),
        "die": sample_plugin.Die(),
        "contains": sample_plugin.Contains(),
        "not_finite": sample_plugin.NotFinite(),
    }
    return BatchScorer(verifiers, **kw)


def test_a_hung_item_is_cut_by_its_timeout_and_costs_only_itself():
    with scorer(workers=2, timeout=1.0) as s:
        out = s.score(["hang"], ["fine", "hang now", "fine too"], [{}, {}, {}])["hang"]
        assert [t.result.score for t in out] == [1.0, 0.0, 1.0]
        assert out[1].timed_out and out[1].result.error == "timeout after 1s"
        assert not out[0].timed_out
        # the pool recovers: the next batch is served normally
        again = s.score(["hang"], ["ok"] * 4, [{}] * 4)["hang"]
        assert [t.result.score for t in again] == [1.0] * 4


def test_a_raising_verifier_is_an_error_result():
    with scorer(workers=1) as s:
        (t,) = s.score(["boom"], ["x"], [{}])["boom"]
    assert t.result.score == 0.0
    assert t.result.error == "crash: RuntimeError: kaboom"


def test_a_worker_that_dies_costs_only_its_item():
    with scorer(workers=2, timeout=5) as s:
        out = s.score(["die"], ["live", "die", "live"], [{}, {}, {}])["die"]
        assert out[1].result.error.startswith("crash: worker died")
        assert [out[0].result.score, out[2].result.score] == [1.0, 1.0]


def test_missing_field_and_non_finite_scores_are_errors():
    with scorer(workers=1) as s:
        out = s.score(["contains", "not_finite"], ["a"], [{}])
    assert out["contains"][0].result.error == "missing task field 'answer'"
    assert out["not_finite"][0].result.error == "non-finite score nan"
    assert out["not_finite"][0].result.score == 0.0


def test_timeouts_work_from_a_non_main_thread():
    results = {}

    def work():
        with scorer(workers=1, timeout=0.5) as s:
            results["out"] = s.score(["hang"], ["hang"], [{}])["hang"][0]

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert results["out"].timed_out


def test_inline_mode_scores_in_process():
    with scorer(workers=0) as s:
        out = s.score(["contains"], ["the answer is 4"], [{"answer": 4}])["contains"]
    assert out[0].result.score == 1.0
