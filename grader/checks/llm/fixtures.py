"""The instructor-only recipe of Module 4's fixtures (`python -m grader.fixtures`).

Never shipped to students; `build_fixtures(impl, rng)` runs the reference through the sandbox
and returns every input with the reference's outputs, each key prefixed by the id of the
exercise that reads it (`exercise_of`).
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from .ex4_1_bpe import SPECIALS
from .ex4_4_sampling import K_RANGES, P_RANGES, _softmax
from .ex4_5_kv_cache import BUGS, KV_CONFIG, MAX_LEN, N_LAYER, SCHEDULES, B, D, H, T, V

EXTRA_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|sep|>")  # some of them, drawn


EXERCISE_OF = {"bpe": "4.1", "sample": "4.4", "settings": "4.4", "top_k": "4.4",
               "top_p": "4.4", "x": "4.4", "kv": "4.5"}


def exercise_of(name: str) -> str:
    """The exercise whose checks read fixture `name`: "kv.logits" -> "4.5"."""
    return EXERCISE_OF[name.split(".")[0]]


FIXTURE_SEED = 20261201  # the committed fixtures; `make gradescope` draws its own


def build_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """4.1's tokenizer texts, 4.4's sampling settings, 4.5's decoding runs: one stream."""
    arrays = {**_bpe_fixtures(impl, rng), **_sampling_fixtures(impl, rng),
              **_kv_cache_fixtures(impl, rng)}
    return fixtures.with_ids(arrays, exercise_of)


# Pools the fixture text and samples are drawn from.
WORDS = ("the", "model", "models", "reads", "reader", "token", "tokens", "tokenizer", "and",
         "low", "lower", "lowest", "layer", "layers", "learn", "learns", "learning", "level",
         "levels", "pattern", "patterns", "new", "newer", "newest", "wide", "wider", "widest",
         "fast", "faster", "split", "splits", "text", "texts", "into", "piece", "pieces", "of",
         "a", "in", "with", "then", "there", "these", "those", "attend", "attention")


UNICODE_WORDS = ("café", "naïve", "Ünïcödé", "façade", "über", "niño", "Ωμέγα", "日本語", "中文",
                 "テキスト", "한국어", "🎉🎉", "👋🏽", "🚀", "e\u0301", "x²", "€")


PUNCT = (",", ";", ".", "!", "?", ":")


SPACES = ("  ", "\n\t", "\t", "\n", "   ", "\n\n")


def _draw_text(rng: np.random.Generator, specials: list[str]) -> tuple[str, list[str]]:
    """A training text and four samples to encode, drawn: repeated sentences of common words
    (frequent pairs and ties), a line of multi-byte characters after a special token, code,
    and samples of words, multi-byte characters, code around a special token, whitespace."""
    def words(n: int) -> str:
        return " ".join(str(w) for w in rng.choice(WORDS, size=n))

    sentences = [words(int(rng.integers(6, 14))) + str(rng.choice(PUNCT)) + " "
                 for _ in range(4)]
    prose = "".join(sentences[int(i)] for i in rng.integers(0, 4, size=int(rng.integers(10, 16))))
    title = words(int(rng.integers(3, 6))).capitalize() + ".\n"
    uni = ", ".join(str(w) for w in rng.choice(UNICODE_WORDS, size=5, replace=False))
    uni_line = f"{uni} — it's {int(rng.integers(1900, 2100))}!\n"
    a, b = (str(c) for c in rng.choice(list("xyzuvw"), size=2, replace=False))
    op = str(rng.choice(["+", "-", "*"]))
    code = f"def f({a}_1, {b}_2):\n    return {a}_1 {op} {b}_2  # {words(1)}\n"
    blocks = [prose, title * int(rng.integers(2, 5)),
              (str(rng.choice(specials)) + uni_line) * 2, code * int(rng.integers(2, 5))]
    text = "".join(blocks[int(i)] for i in rng.permutation(len(blocks)))
    samples = [
        words(int(rng.integers(4, 8))),
        " ".join(str(w) for w in rng.choice(UNICODE_WORDS, size=3, replace=False))
        + str(rng.choice(PUNCT)),
        f"{a}_1 {op} {b}_2{rng.choice(specials)}{words(1)}",
        "".join(str(rng.choice(SPACES)) + words(1) for _ in range(3)) + str(rng.choice(SPACES)),
    ]
    return text, samples


def _bpe_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Instructor-only: the reference's merges and encodings on a drawn text."""
    extras = [str(s) for s in rng.choice(EXTRA_SPECIALS, size=int(rng.integers(0, 3)),
                                         replace=False)]
    specials = [str(s) for s in rng.permutation(list(SPECIALS) + extras)]
    vocab_size = 256 + len(specials) + int(rng.integers(25, 65))  # the number of merges
    text, samples = _draw_text(rng, specials)
    vocab, merges = impl.train_bpe(text, vocab_size, specials)
    assert len(vocab) == vocab_size, "the drawn text is too short for the drawn vocab_size"
    tok = impl.BPETokenizer(vocab, merges)
    f = {"bpe.text": np.array(text), "bpe.vocab_size": np.array(vocab_size),
         "bpe.specials": np.array(specials), "bpe.merges": np.array(merges, dtype=np.int64),
         "bpe.samples": np.array(samples)}
    for j, sample in enumerate(samples):
        f[f"bpe.sample_ids_{j}"] = np.array(tok.encode(sample), dtype=np.int64)
    return f


SETTING_KINDS = (  # the draws of `settings`: temperature range, top_k range, top_p range
    ((0.7, 1.3), None, None), ((0.4, 0.9), (2, 7), None), ((1.2, 2.0), None, (0.6, 0.9)),
    ((0.6, 1.0), (3, 8), (0.8, 0.95)), ((1.5, 2.5), (2, 5), (0.4, 0.7)))


MARGIN = 1e-6  # every p is this far from each cumulative mass it is compared with


def _margin(logits: np.ndarray, p: float) -> float:
    """How far p is from the cumulative masses of the sorted probabilities of each row."""
    probs = np.sort(_softmax(logits), axis=-1)[..., ::-1]
    return float(np.abs(np.cumsum(probs, axis=-1) - p).min())


def _draw_settings(impl, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seeds (of the checks' generators), temperatures, top-k and top-p, drawn until every
    top-p is clear of the cumulative masses it meets, and until two known bugs (filtering
    before the temperature; sampling the logits before top-k) change a draw."""
    for _ in range(1000):
        rows = []
        for temps, ks, ps in SETTING_KINDS:
            rows.append([int(rng.integers(2**31)), round(float(rng.uniform(*temps)), 2),
                         int(rng.integers(*ks)) if ks else 0,
                         round(float(rng.uniform(*ps)), 3) if ps else 0.0])
        clear, after, unfiltered = True, False, False
        for seed, temperature, top_k, top_p in rows:
            z = x / temperature
            if top_k > 0:
                z = impl.top_k_filter(z, int(top_k))
            if top_p > 0:
                clear &= _margin(z, top_p) > MARGIN
            kwargs = {"temperature": temperature, "top_k": int(top_k) or None,
                      "top_p": top_p or None}
            right = impl.sample_next_token(x, np.random.default_rng(seed), **kwargs)
            if top_p > 0 and temperature != 1:  # the filters at temperature 1, then /T
                first = impl.top_p_filter(impl.top_k_filter(x, int(top_k)) if top_k else x,
                                          top_p)
                wrong = impl.sample_next_token(first, np.random.default_rng(seed),
                                               temperature=temperature)
                after |= not np.array_equal(wrong, right)
            if top_k > 0:
                wrong = impl.sample_next_token(x, np.random.default_rng(seed),
                                               **{**kwargs, "top_k": None})
                unfiltered |= not np.array_equal(wrong, right)
        if clear and after and unfiltered:
            return np.array(rows, dtype=np.float64)
    raise RuntimeError("no settings found that show the bugs; widen SETTING_KINDS")


def _sampling_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Instructor-only: the reference's filters and draws on random (3, 10) logits, with
    k, p, and the settings of the draws (generator seeds included) drawn from `rng`."""
    x = np.round(rng.standard_normal((3, 10)), 3)
    f = {"x": x}
    for j, ks in enumerate(K_RANGES):
        k = int(rng.integers(*ks))
        f[f"top_k.{j}.k"], f[f"top_k.{j}.out"] = np.array(k), impl.top_k_filter(x, k)
    for j, ps in enumerate(P_RANGES):
        p = round(float(rng.uniform(*ps)), 3)
        while _margin(x, p) <= MARGIN:
            p = round(float(rng.uniform(*ps)), 3)
        f[f"top_p.{j}.p"], f[f"top_p.{j}.out"] = np.array(p), impl.top_p_filter(x, p)
    f["settings"] = _draw_settings(impl, x, rng)
    for j, (seed, temperature, top_k, top_p) in enumerate(f["settings"].tolist()):
        kwargs = {"temperature": temperature}
        if top_k > 0:
            kwargs["top_k"] = int(top_k)
        if top_p > 0:
            kwargs["top_p"] = top_p
        f[f"sample.{j}"] = impl.sample_next_token(x, np.random.default_rng(int(seed)), **kwargs)
    return f


def _kv_cache_fixtures(impl, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The reference's full-forward logits, cache buffers and greedy tokens on a loud tiny
    GPT, and the logits of known wrong decoders (composed from the reference's parts)."""
    # Every parameter is replaced below; the initialisation only gives the names and shapes.
    model = impl.GPT(impl.GPTConfig(**KV_CONFIG), np.random.default_rng(int(rng.integers(2**31))))
    names = list(model.params)
    params = {}
    for name, value in model.params.items():
        shape = value.shape
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] = 1.0 + 0.3 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            params[name] = 0.3 * rng.standard_normal(shape)
        elif name in ("wte.weight", "wpe.weight"):
            params[name] = rng.standard_normal(shape)
        else:
            params[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    model.params = params
    idx = rng.integers(0, V, size=(B, T))
    f = {"kv.names": np.array(names), "kv.idx": idx, "kv.logits": model.forward(idx)}
    f.update({f"kv.params.{k}": v for k, v in params.items()})
    cache = impl.KVCache.for_model(model, B, MAX_LEN)
    # the cached path's own softmax rounds differently: 1.2e-14 apart at most over 300 draws
    assert np.allclose(model.forward(idx, kv_cache=cache), f["kv.logits"], rtol=1e-10, atol=1e-12)
    f["kv.k"], f["kv.v"] = cache.k, cache.v
    f["kv.greedy"] = impl.generate(model, idx[:, :3], T - 3)
    assert np.array_equal(f["kv.greedy"], impl.generate(model, idx[:, :3], T - 3,
                                                        use_cache=False))

    def decode(chunks, bug=None):
        """Logits of `chunks` cached forwards, with one known bug switched on."""
        C = KV_CONFIG["n_embd"]
        past = [[np.zeros((B, H, 0, D))] * 2 for _ in range(N_LAYER)]
        out, start = [], 0
        for t_new in chunks:
            end = start + t_new
            pos = np.arange(t_new) if bug == "no_offset" else np.arange(start, end)
            x = (params["wte.weight"][idx[:, start:end]] + params["wpe.weight"][pos])
            if bug == "mask_top_left":
                mask = np.tril(np.ones((t_new, end), dtype=bool))
            elif bug == "no_mask":
                mask = None
            else:
                mask = impl.causal_mask(t_new, end)
            for i in range(N_LAYER):
                p = {k[len(f"h.{i}."):]: v for k, v in params.items() if k.startswith(f"h.{i}.")}
                a = impl.layer_norm(x, p["ln_1.weight"], p["ln_1.bias"])[0]
                qkv = impl.linear(a, p["attn.c_attn.weight"], p["attn.c_attn.bias"])[0]
                q, k, v = (impl.split_heads(qkv[:, :, j * C:(j + 1) * C], H) for j in range(3))
                past[i] = [np.concatenate([past[i][0], k], axis=2),
                           np.concatenate([past[i][1], v], axis=2)]
                y = impl.scaled_dot_product_attention(q, *past[i], mask)[0]
                x = x + impl.linear(impl.merge_heads(y), p["attn.c_proj.weight"],
                                    p["attn.c_proj.bias"])[0]
                a = impl.layer_norm(x, p["ln_2.weight"], p["ln_2.bias"])[0]
                mlp = {"W_1": p["mlp.c_fc.weight"], "b_1": p["mlp.c_fc.bias"],
                       "W_2": p["mlp.c_proj.weight"], "b_2": p["mlp.c_proj.bias"]}
                x = x + impl.feed_forward(a, mlp, activation="gelu")[0]
            x = impl.layer_norm(x, params["ln_f.weight"], params["ln_f.bias"])[0]
            out.append(x @ params["wte.weight"].T)
            start = end
        return np.concatenate(out, axis=1)

    for schedule, chunks in SCHEDULES.items():
        assert np.allclose(decode(chunks), f["kv.logits"], rtol=1e-10, atol=1e-12)
        for bug in BUGS:
            wrong = decode(chunks, bug)
            if not np.allclose(wrong, f["kv.logits"], **expect.F64):  # only bugs that show
                f[f"kv.bug.{schedule}.{bug}"] = wrong
    return f
