"""The study's formulas against numbers worked by hand (llama-3.1-8b, bf16, Sp = Sd = 128).

N = Sp + Sd - 1 = 255 tokens, h b = 4096 x 2 = 8192 bytes per token.
"""

import pytest

from tracekit.collect.presets import get_preset
from tracekit.model.study import study_volume

M = get_preset("llama-3.1-8b")


def test_tp4() -> None:
    vol = study_volume(M, 4, 1, prompt_len=128, gen_len=128)
    # (2*32 + 1) * 255 * 8192 * 2*3/4  +  128 * (128256/4) * 2
    assert vol.formula == "tp"
    assert vol.all_reduce == 65 * 255 * 8192 * 1.5 == 203_673_600
    assert vol.gather == 128 * 32064 * 2 == 8_208_384
    assert vol.total == 211_881_984
    assert (vol.all_reduce_calls, vol.gather_calls) == (65 * 128, 128)


def test_pp4() -> None:
    vol = study_volume(M, 1, 4, prompt_len=128, gen_len=128)
    assert vol.formula == "pp"
    assert vol.total == 3 * 2 * 255 * 8192 == 12_533_760
    assert vol.send_calls == 2 * 3 * 128


def test_tp2_pp2_hybrid() -> None:
    vol = study_volume(M, 2, 2, prompt_len=128, gen_len=128)
    assert vol.formula == "hybrid"
    assert vol.all_reduce == 32 * 255 * 8192 * 1.0 == 66_846_720  # (2L/p) = 32
    assert vol.all_gather == 2 * 1 * 255 * 8192 * 0.5 == 2_088_960
    assert vol.gather == 128 * 64128 * 2 == 16_416_768
    assert vol.p2p == 1 * 2 * 255 * 2048 * 2 == 2_088_960
    assert vol.total == 87_441_408


def test_study_ranking_and_growth() -> None:
    def total(tp: int, pp: int, gen: int) -> float:
        return study_volume(M, tp, pp, prompt_len=128, gen_len=gen).total

    assert total(1, 4, 128) < total(2, 2, 128) < total(4, 1, 128)
    # 128 -> 512 output: 65 * 639 * 8192 * 1.5 + 512 * 32064 * 2 = 543,215,616
    assert total(4, 1, 512) == 543_215_616
    assert total(4, 1, 512) / total(4, 1, 128) == pytest.approx(2.5637, abs=1e-4)


def test_batch_scales_tokens_and_one_rank_moves_nothing() -> None:
    one = study_volume(M, 1, 4, prompt_len=128, gen_len=128)
    four = study_volume(M, 1, 4, prompt_len=128, gen_len=128, batch=4)
    assert four.total == 4 * one.total
    assert study_volume(M, 1, 1, prompt_len=128, gen_len=128).total == 0
