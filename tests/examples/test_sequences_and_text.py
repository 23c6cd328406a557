"""examples/sequences_and_text.py: the sentence rule, and a quick run of both parts."""
import numpy as np


def read_sentiment(module, text):
    """An independent reading of the rule: the last clause decides, `not` flips it."""
    last = text.split(" but ")[-1].split()
    positive = last[-1] in module.POSITIVE
    assert positive or last[-1] in module.NEGATIVE
    return float(positive != ("not" in last))


def test_sentences_follow_the_rule(load_example):
    module = load_example("sequences_and_text")
    texts, labels, kinds = module.make_sentences(400, seed=3)
    assert sorted(set(kinds)) == sorted(module.KINDS)
    assert [read_sentiment(module, t) for t in texts] == labels.tolist()
    for text in texts[kinds == "contrast"]:
        first, second = text.split(" but ")
        # The same words in the other order mean the opposite: a bag of words cannot tell them apart.
        assert sorted(f"{second} but {first}".split()) == sorted(text.split())
        assert read_sentiment(module, f"{second} but {first}") != read_sentiment(module, text)
    assert 0.35 < np.mean(labels) < 0.65  # both classes well represented


def test_quick_run(load_example, tmp_path):
    module = load_example("sequences_and_text")
    results = module.main(["--quick", "--out", str(tmp_path)])
    assert set(results["mnist1d"]) == {"logistic", "mlp", "cnn", "gru"}
    assert all(row["paper"] in (0.32, 0.68, 0.94, 0.91) for row in results["mnist1d"].values())
    assert set(results["text_accuracy"]) == {"bag_of_words", "lstm", "transformer"}
    assert all(0.0 <= v <= 1.0 for row in results["text_accuracy"].values() for v in row.values())
    assert len(results["lstm_on_new_sentences"]) == 3  # the end-to-end model took raw strings
    for name in ("mnist1d.png", "text_accuracy.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
