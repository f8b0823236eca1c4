"""The TRL and verl adapters. The TRL one runs inside a real, tiny, offline GRPOTrainer."""

import pytest
import sample_plugin

from rewards import Plugins
from rewards.adapters import TRLReward, completion_text, to_trl_components, to_verl, verl_row
from rewards.scheme import RewardScheme


@pytest.fixture
def scheme():
    plugins = Plugins(builtins=False, entry_points=False)
    plugins.register(sample_plugin, name="sample")
    config = {"verifiers": {"contains": 1.0, "prefix": 0.5, "only_math": 2.0}}
    with RewardScheme.from_config(config, plugins=plugins, workers=1) as s:
        yield s


def test_plain_and_conversational_completions(scheme):
    reward = TRLReward(scheme)
    plain = reward(
        ["q1", "q2"], ["<think>x</think>42", "41"], answer=["42", "42"], domain=["math", "poetry"]
    )
    assert plain == [1.0 + 0.5 + 1.0, 0.0]
    conversational = reward(
        [[{"role": "user", "content": "q"}]],
        [[{"role": "assistant", "content": "<think>y</think> 42"}]],
        answer=["42"],
        domain=["poetry"],
    )
    assert conversational == [1.5]
    multimodal = [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}]
    assert completion_text(multimodal) == "a"


def test_components_keep_abstentions_as_none(scheme):
    funcs, weights = to_trl_components(scheme)
    assert [f.__name__ for f in funcs] == ["contains", "prefix", "only_math"]
    assert weights == [1.0, 0.5, 2.0]
    assert funcs[2](["q"], ["x"], answer=["1"]) == [None]


def test_verl_compute_score(scheme):
    compute_score = to_verl(scheme)
    out = compute_score("openai/gsm8k", "<think>a</think> 42", "42", {"domain": "math"})
    assert out == {"score": 2.5, "contains": 1.0, "prefix": 1.0, "only_math": 0.5}


@pytest.mark.slow
def test_trl_grpo_trainer_runs_with_the_adapter(scheme, tmp_path):
    torch = pytest.importorskip("torch")
    trl = pytest.importorskip("trl")
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = list("0123456789+=<>/thinkq ")
    vocab = {c: i for i, c in enumerate(["<pad>", "<eos>", *dict.fromkeys(chars)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=1,
        )
    )
    data = Dataset.from_list([{"prompt": f"q{i}+{i}=", "answer": str(2 * i)} for i in range(8)])

    calls = []

    class Recording(TRLReward):
        def __call__(self, prompts, completions, **columns):
            out = super().__call__(prompts, completions, **columns)
            calls.append((len(completions), columns.get("answer"), out))
            return out

    config = trl.GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=4,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        beta=0.0,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=Recording(scheme),
        args=config,
        train_dataset=data,
        processing_class=tok,
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert calls and all(n == 4 for n, _, _ in calls)
    assert all(isinstance(a, list) and len(a) == 4 for _, a, _ in calls)  # columns passed per row
    assert all(isinstance(r, float) for _, _, out in calls for r in out)
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert logged, trainer.state.log_history


def test_verl_ground_truth_is_the_answer_whatever_extra_info_holds(scheme):
    # verl's GSM8K preprocessing puts the worked solution in extra_info["answer"]
    compute_score = to_verl(scheme)
    extra_info = {"answer": "Natalia sold 48/2 = 24 clips... #### 72", "domain": "math"}
    out = compute_score("openai/gsm8k", "<think>a</think> 42", "42", extra_info)
    assert out["contains"] == 1.0, "the row's answer is ground_truth, not extra_info['answer']"
    assert out["only_math"] == 0.5, "other extra_info keys still reach the verifiers"
    assert extra_info["answer"].endswith("#### 72"), "the caller's extra_info is not changed"


def test_verl_row_precedence():
    row = verl_row("openai/gsm8k", "72", {"answer": "... #### 72", "data_source": "x", "k": 1})
    assert row == {"answer": "72", "data_source": "openai/gsm8k", "k": 1}
    assert verl_row("d", 3, None) == {"answer": 3, "data_source": "d"}
