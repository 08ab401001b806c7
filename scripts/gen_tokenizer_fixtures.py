#!/usr/bin/env python3
"""Writes the tokenizer golden fixtures: Hugging Face `tokenizers` ids for >= 2,000 test strings.

Runs where the Python `tokenizers` package exists (the GPU machine; no network needed):

    python3 scripts/gen_tokenizer_fixtures.py --out tests/fixtures/tokenizer

Reads the tokenizer files already committed under --out (deepseek-v3/, qwen2.5/) and writes
beside them:
    deepseek-v3.encode.jsonl, qwen2.5.encode.jsonl
        one JSON object per line: {"text": str, "add_special": bool, "ids": [int, ...]}
        plus "decoded": str when tokenizer.decode(ids, skip_special_tokens=False) != text.
    hf_speed.json
        Hugging Face encode throughput on one core (RAYON_NUM_THREADS=1, no encode_batch) over the
        bench corpus that `--write-bench-text` writes, for docs/PERF.md.
    meta.json
        versions, counts and sha256 of the inputs, so a stale fixture can be recognised.

Every test string is built here deterministically (fixed seeds, no input files), so the same
script always writes the same fixtures. `--write-bench-text PATH` writes only the bench corpus
(no `tokenizers` needed), so `dse-tokenize --bench PATH` can measure the same text.
"""

import argparse
import hashlib
import json
import os
import random
import sys
import time
import unicodedata

# Must be set before `tokenizers` is imported: one core for the speed measurement.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

VOCABS = {
    "deepseek-v3": "deepseek-v3",
    "qwen2.5": "qwen2.5",
}

# ---------------------------------------------------------------------------------------------
# Source material (short, hand-written; combined at random below).

ENGLISH = (
    "the quick brown fox jumps over the lazy dog while a model learns to predict the next token "
    "Hello world I'm sure you'll agree that it's what we've wanted they'd said THEY'RE DON'T "
    "isn't couldn't we'll You've I'd It's He's SHE'LL tokenization is surprisingly subtle when "
    "unicode normalization byte level encoding and regular expressions meet in one place "
    "DeepSeek Qwen transformer attention cache prefill decode throughput latency memory budget "
    "New York San Francisco e.g. i.e. etc. Mr. Dr. U.S.A. O'Neil rock'n'roll don't-stop "
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic"
).split()

CHINESE = [
    "我们今天讨论分词器的实现细节", "深度求索发布了新的语言模型", "这是一个测试句子，包含标点符号。",
    "人工智能正在改变世界", "北京上海广州深圳", "你好，世界！", "机器学习与深度学习的区别是什么？",
    "请把这段文字翻译成英文", "中华人民共和国成立于一九四九年", "模型的参数量为六百七十一亿",
    "「引号」『书名号』《史记》〈篇〉", "数学公式：一加一等于二", "繁體中文與簡體中文並存",
    "龍飛鳳舞，鬱鬱蔥蔥", "𠀀𠀁𪚥 扩展汉字", "㐀㐁㐂 統一漢字擴展A",
]
JAPANESE = [
    "こんにちは、世界！", "東京タワーは高いです。", "カタカナとひらがなを混ぜた文章",
    "私は日本語を勉強しています", "ｶﾀｶﾅ 半角カタカナ", "ラーメンを食べたいー", "今日は良い天気ですね。",
    "ヴァイオリンとチェロ", "ゟ゠ヿ ゛゜", "吾輩は猫である。名前はまだ無い。",
]
KOREAN = [
    "안녕하세요, 세계!", "한국어 문장을 토큰화합니다", "대한민국의 수도는 서울입니다.",
    "ㄱㄴㄷㄹ ㅏㅑㅓㅕ", "맛있는 김치찌개", "프로그래밍 언어",
]
ARABIC = [
    "مرحبا بالعالم", "اللغة العربية جميلة جدا", "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
    "١٢٣٤٥٦٧٨٩٠ أرقام عربية", "هذا اختبار، أليس كذلك؟",
]
HINDI = [
    "नमस्ते दुनिया", "हिन्दी भारत की राजभाषा है।", "क्षत्रिय ज्ञान श्री", "०१२३४५६७८९ अंक",
    "मैं कंप्यूटर विज्ञान पढ़ता हूँ",
]
RUSSIAN = [
    "Привет, мир!", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Москва — столица России", "ЁЛКИ-ПАЛКИ ёжик", "Україна, Київ, їжак, ґанок", "Български език",
]
OTHER = [
    "Γειά σου Κόσμε", "Ωμέγα ΣΊΣΥΦΟΣ ς", "שלום עולם", "สวัสดีชาวโลก ภาษาไทย", "Tiếng Việt có dấu: ước mơ",
    "Ελληνικά και ελληνικά", "Ἀρχὴ ἥμισυ παντός", "ქართული ენა", "Հայերեն", "አማርኛ ቋንቋ",
    "தமிழ் மொழி", "বাংলা ভাষা", "ਪੰਜਾਬੀ", "ગુજરાતી", "ಕನ್ನಡ", "മലയാളം", "සිංහල", "ພາສາລາວ",
    "မြန်မာ", "ខ្មែរ", "ᠮᠣᠩᠭᠣᠯ", "ᓀᐦᐃᔭᐍᐏᐣ", "Zürich Straße Ærø Øresund ĳ ŉ",
    "naïve café résumé coöperate façade", "ﬁ ﬂ ﬃ ligatures", "Ⅻ ⅻ ℃ ℉ № ™ Å",
]
CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"hello, %s\\n\", \"world\");\n\treturn 0;\n}\n",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
    "const f = async (x) => { await sleep(100); return x?.y ?? 0; };\nexport default f;\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%a%' ORDER BY id DESC;\n",
    "<html>\n  <body class=\"main\">\n    <p>Hello &amp; welcome</p>\n  </body>\n</html>\n",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}",
    "#!/bin/bash\nfor f in *.txt; do\n  echo \"$f\" | sed 's/a/b/g' >> out.log 2>&1\ndone\n",
    "template <typename T>\nstd::vector<T> f(const std::vector<T>& xs) noexcept {\n  return {xs.begin(), xs.end()};\n}\n",
    "public static void main(String[] args) {\n        System.out.println(args.length);\n    }\n",
    "x = [i**2 for i in range(100) if i % 3 == 0]  # squares\nprint(f\"{x!r:>10}\")\n",
    "    \t  mixed_indent = {'a': 1,\t'b': 2}\r\n\r\n",
    "%% LaTeX\n\\begin{equation}\n  E = mc^2 \\quad \\forall x \\in \\mathbb{R}\n\\end{equation}\n",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f<<=6;g>>=7;h&=8;i|=9;j^=10;k&&l||!m;n->o;p::q;r...s",
    "// comment\n/* block\n * comment */\nint x = 0x1F'FF'FF; // hex with separators\n",
    "match x {\n    Some(ref y) if *y > 0 => {},\n    _ => unreachable!(),\n}\n",
    "    return self._cache.get(key, default)\n\n\n\n    # trailing blank lines\n",
]
EMOJI = [
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸🇨🇳", "❤️", "✊🏿", "🧑‍💻", "👩🏻‍❤️‍💋‍👨🏼", "🫠🫥🫶",
    "☺︎ ☺️", "#️⃣ 1️⃣ *️⃣", "🐉🐲", "🤖 robots", "💯💯💯", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🦄✨", "⌚⌛", "🀄🃏",
]
PUNCT = [
    "!!!", "???", "...", "—", "–", "«»", "‘’“”", "、。，；：", "¡¿", "§¶†‡", "©®", "@#$%^&*()",
    "<<>>", "[[]]", "{{}}", "\\\\", "//", "~~~", "```", "---", "===", "+-*/", "€£¥₹₽", "°±×÷",
    "√∞≈≠≤≥∑∏∫", "→←↑↓⇒", "•◦▪", "★☆", "♠♣♥♦", "http://example.com/a?b=c&d=e#f",
    "user.name+tag@example.co.uk", "C:\\Users\\x\\file.txt", "2026-11-28T00:25:00Z", "$1,234.56",
    "50% off!", "#hashtag @mention", "v1.2.3-rc.4+build.5", "a/b\\c|d", "(╯°□°)╯︵ ┻━┻", "¯\\_(ツ)_/¯",
]
CONTRACTIONS = [
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D",
    "'Re", "'rE", "’s", "' s", "''s", "'ss", "'dd",
]
WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", " \t ",
              "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c",
              "\u1680", "\u202f", "\u205f", "        ", "\n\n\n\n"]
CONTROL = [chr(c) for c in range(0, 32)] + ["\x7f", "\x80", "\x9f", "\ufeff", "\u200c", "\u200d",
                                            "\u200e", "\u200f", "\u2060", "\ufffd", "\ufffe",
                                            "\U000e0001", "\U0010ffff", "\ue000", "\uf8ff"]
DIGIT_SETS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "零一二三四五六七八九",
              "①②③④⑤⑥⑦⑧⑨", "¹²³⁴⁵⁶⁷⁸⁹⁰", "ⅠⅡⅢⅣⅤ", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", "๐๑๒๓๔๕๖๗๘๙"]

# Strings that look like special tokens (partial ones too), per vocabulary, plus both vocabularies'
# real added tokens so each vocabulary also sees the other's as plain text.
SPECIAL_LIKE = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>",
    "<|EOT|>", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>",
    "<｜tool▁calls▁end｜>", "<｜tool▁outputs▁begin｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>",
    "<｜tool▁outputs▁end｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>",
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|box_end|>",
    "<|vision_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<think>", "</think>",
    "<｜User", "User｜>", "<｜", "｜>", "<|im_start", "im_end|>", "<|", "|>", "<|EOT", "<<|im_end|>>",
    "<｜place▁holder▁no▁1｜>", "<｜place▁holder▁no▁797｜>",
]


def _rand_word(rng, pool):
    return pool[rng.randrange(len(pool))]


def _english_sentence(rng, n_words):
    words = [_rand_word(rng, ENGLISH) for _ in range(n_words)]
    s = " ".join(words)
    if rng.random() < 0.5:
        s = s[:1].upper() + s[1:]
    return s + rng.choice([".", "!", "?", "", ",", ";", ":", " —", "\n"])


def _numbers(rng):
    out = []
    for length in range(1, 41):
        out.append("".join(rng.choice("0123456789") for _ in range(length)))
    for length in range(1, 25):
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        out.append("x" + digits + "y")
        out.append(" " + digits)
        out.append(digits + "." + digits[::-1])
        out.append("-" + digits + "e-" + str(length))
    for ds in DIGIT_SETS:
        for length in (1, 2, 3, 4, 5, 7, 10):
            out.append("".join(rng.choice(ds) for _ in range(length)))
            out.append("abc" + "".join(rng.choice(ds) for _ in range(length)) + " def")
    out += ["1,000,000", "3.14159265358979", "1e100", "0x7fffffff", "1_000_000", "12:34:56",
            "+1 (555) 123-4567", "2^64 = 18446744073709551616", "½ ¼ ¾", "3²+4²=5²", "１２３ａｂｃ",
            "v2.5", "H2O", "COVID-19", "4K", "1st 2nd 3rd 4th", "100%", "-0", "00000", "007"]
    return out


def _random_unicode(rng, n):
    # Code points from every plane that holds assigned characters; no surrogates (Python str
    # can hold them but HF cannot take them, and they are not valid UTF-8).
    ranges = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
              (0x900, 0x97f), (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x206f), (0x2100, 0x27bf),
              (0x3000, 0x30ff), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xe000, 0xe0ff),
              (0xf900, 0xfaff), (0xfe00, 0xfe6f), (0xff00, 0xffef), (0x10000, 0x1007f),
              (0x1d400, 0x1d7ff), (0x1f300, 0x1faff), (0x20000, 0x2a6df), (0xe0000, 0xe007f),
              (0x0300, 0x036f)]
    chars = []
    for _ in range(n):
        lo, hi = ranges[rng.randrange(len(ranges))]
        chars.append(chr(rng.randint(lo, hi)))
    return "".join(chars)


def _nfd_variants():
    # Decomposed forms: the Qwen2 vocabulary NFC-normalizes them before anything else.
    base = ["café", "résumé", "naïve", "Ångström", "Tiếng Việt", "한국어", "がぎぐげご", "Å Ω K",
            "ñandú", "Œuvre façade", "ḱṷṓn", "e\u0301\u0301", "a\u0308\u0304", "\u0301start"]
    out = []
    for s in base:
        out.append(unicodedata.normalize("NFD", s))
        out.append(unicodedata.normalize("NFKD", s))
        out.append("x " + unicodedata.normalize("NFD", s) + " y")
    return out


def _mixed(rng, pieces, n_pieces):
    return "".join(rng.choice(pieces) for _ in range(n_pieces))


def build_texts():
    """Returns the list of (text, add_special) pairs, deterministic."""
    rng = random.Random(20261128)
    texts = []

    def add(s, add_special=False):
        texts.append((s, add_special))

    # Edge cases.
    for s in ["", " ", "a", "  a", "a  ", "\n", "Hello", " Hello", "Hello world", "hello  world",
              "I'm", "don't", "HELLO'S", "a\u0301", "👍", "\x00", "\ufeffBOM"]:
        add(s)
    for c in range(0x20, 0x7f):
        add(chr(c))
        add("a" + chr(c) + "b")
    # Every ASCII control character alone and embedded.
    for c in CONTROL:
        add(c)
        add("word" + c + "word " + c + c)

    # English.
    for i in range(220):
        add(" ".join(_english_sentence(rng, rng.randint(1, 25)) for _ in range(rng.randint(1, 4))))
    for c in CONTRACTIONS:
        for w in ["it", "IT", "you", "They", "  we", "x1"]:
            add(w + c + " ok")
            add(w + c)

    # Scripts.
    for pool, n in [(CHINESE, 180), (JAPANESE, 150), (KOREAN, 100), (ARABIC, 90), (HINDI, 90),
                    (RUSSIAN, 100), (OTHER, 120)]:
        for s in pool:
            add(s)
        for _ in range(n - len(pool)):
            k = rng.randint(1, 5)
            sep = rng.choice(["", " ", "\n", "，", ", ", " 123 "])
            add(sep.join(rng.choice(pool) for _ in range(k)))
    for s in _nfd_variants():
        add(s)

    # Code, with indentation variants.
    for s in CODE:
        add(s)
        add(s.replace("    ", "\t"))
        add(s.replace("\n", "\r\n"))
        add("  " + s + "  ")
    for _ in range(120):
        add(_mixed(rng, CODE, rng.randint(1, 3)))

    # Emoji, punctuation, numbers, whitespace.
    for s in EMOJI:
        add(s)
        add("I " + s + " it" + s + s)
    for _ in range(80):
        add(" ".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 6))))
    for s in PUNCT:
        add(s)
        add("word" + s + "word " + s)
    for s in _numbers(rng):
        add(s)
    for _ in range(150):
        add(_mixed(rng, WHITESPACE + ["a", "b", "word", "中文", "1", "!", "x y"], rng.randint(1, 12)))
    for w in WHITESPACE:
        add(w)
        add(w * 7)
        add("a" + w + "b")
        add(w + "a" + w)

    # Special-token strings embedded in text (some with add_special=True).
    for s in SPECIAL_LIKE:
        add(s)
        add("Hello " + s + " world")
        add("x" + s + s + "y")
        add("\n" + s + "\n\n")
        add(s + " " + s)
    for _ in range(150):
        parts = [rng.choice(SPECIAL_LIKE) if rng.random() < 0.4 else _english_sentence(rng, 3)
                 for _ in range(rng.randint(2, 6))]
        add(rng.choice(["", " ", "\n"]).join(parts))

    # Random code points and mixtures of everything.
    everything = (ENGLISH + CHINESE + JAPANESE + KOREAN + ARABIC + HINDI + RUSSIAN + OTHER + CODE +
                  EMOJI + PUNCT + WHITESPACE + SPECIAL_LIKE + CONTRACTIONS + CONTROL)
    for _ in range(200):
        add(_random_unicode(rng, rng.randint(1, 60)))
    for _ in range(300):
        add(_mixed(rng, everything, rng.randint(2, 20)))

    # With add_special=True (BOS for DeepSeek-V3; nothing for Qwen2).
    for i in range(40):
        add(_mixed(rng, everything, rng.randint(0, 8)), True)

    # Long inputs.
    add(_mixed(random.Random(1), everything, 6000)[:50000])
    add(_mixed(random.Random(2), CHINESE + JAPANESE, 3000)[:20000])
    add(" ".join(_english_sentence(random.Random(3), 12) for _ in range(400))[:20000])
    add(" " * 10000)
    add("\n" * 3000 + "x" + "\t" * 3000)
    add("".join(random.Random(4).choice("0123456789") for _ in range(10000)))
    add("a" * 10000)
    add("🙂" * 3000)
    add(_mixed(random.Random(5), CODE, 200)[:30000])
    add(_random_unicode(random.Random(6), 20000))
    return texts


def build_bench_corpus():
    """About 8 MiB of mixed text, deterministic; chunked into ~16 KiB documents at line ends."""
    rng = random.Random(777)
    lines = []
    size = 0
    target = 8 * 1024 * 1024
    while size < target:
        r = rng.random()
        if r < 0.45:
            line = " ".join(_english_sentence(rng, rng.randint(5, 25)) for _ in range(rng.randint(1, 5)))
        elif r < 0.60:
            line = rng.choice(CODE)
        elif r < 0.72:
            line = "".join(rng.choice(CHINESE + JAPANESE) for _ in range(rng.randint(1, 6)))
        elif r < 0.82:
            line = " ".join(rng.choice(KOREAN + ARABIC + HINDI + RUSSIAN + OTHER) for _ in range(4))
        elif r < 0.90:
            line = " ".join(rng.choice(_NUMBER_POOL) for _ in range(rng.randint(1, 10)))
        else:
            line = _mixed(rng, EMOJI + PUNCT + WHITESPACE + ENGLISH, rng.randint(3, 30))
        line = line.rstrip("\n") + "\n"
        lines.append(line)
        size += len(line.encode("utf-8"))
    return "".join(lines)


_NUMBER_POOL = _numbers(random.Random(99))


def bench_chunks(text, chunk_bytes=16384):
    """Splits at line ends into chunks of at least chunk_bytes (UTF-8). dse-tokenize --bench does
    the same, so both sides encode the same calls."""
    chunks, cur, cur_size = [], [], 0
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)  # "\n" only, as the C++ side; not str.splitlines' many breaks
        end = len(text) if nl < 0 else nl + 1
        line, pos = text[pos:end], end
        cur.append(line)
        cur_size += len(line.encode("utf-8"))
        if cur_size >= chunk_bytes:
            chunks.append("".join(cur))
            cur, cur_size = [], 0
    if cur:
        chunks.append("".join(cur))
    return chunks


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures/tokenizer",
                    help="fixture folder holding deepseek-v3/ and qwen2.5/ (default: %(default)s)")
    ap.add_argument("--write-bench-text", metavar="PATH",
                    help="only write the bench corpus to PATH and exit (needs no tokenizers)")
    ap.add_argument("--bench-repeats", type=int, default=3, help="timed passes, best is kept")
    args = ap.parse_args()

    if args.write_bench_text:
        with open(args.write_bench_text, "w", encoding="utf-8", newline="") as f:
            f.write(build_bench_corpus())
        return 0

    import tokenizers  # noqa: deferred so --write-bench-text works without it
    try:
        import transformers  # optional cross-check of add_special_tokens=True
    except Exception:  # noqa: BLE001
        transformers = None

    texts = build_texts()
    print(f"{len(texts)} test strings", file=sys.stderr)
    meta = {"tokenizers_version": tokenizers.__version__,
            "transformers_version": getattr(transformers, "__version__", None),
            "python": sys.version.split()[0], "count": len(texts), "vocabs": {}}
    speed = {"tokenizers_version": tokenizers.__version__, "threads": 1, "vocabs": {}}
    corpus = build_bench_corpus()
    chunks = bench_chunks(corpus)
    corpus_bytes = len(corpus.encode("utf-8"))

    for name, sub in VOCABS.items():
        folder = os.path.join(args.out, sub)
        tj = os.path.join(folder, "tokenizer.json")
        tc = os.path.join(folder, "tokenizer_config.json")
        tok = tokenizers.Tokenizer.from_file(tj)
        with open(tc, encoding="utf-8") as f:
            config = json.load(f)
        bos_id = None
        if config.get("add_bos_token"):
            bos = config.get("bos_token")
            bos = bos.get("content") if isinstance(bos, dict) else bos
            bos_id = tok.token_to_id(bos)
        hf_fast = None
        if transformers is not None:
            try:
                hf_fast = transformers.AutoTokenizer.from_pretrained(folder)
            except Exception as e:  # noqa: BLE001
                print(f"{name}: transformers AutoTokenizer unavailable ({e}); using tokenizer_config",
                      file=sys.stderr)
        mismatches_with_transformers = 0
        transformers_examples = []
        out_path = os.path.join(args.out, f"{name}.encode.jsonl")
        n_tokens = 0
        with open(out_path, "w", encoding="utf-8", newline="\n") as f:
            for text, add_special in texts:
                ids = tok.encode(text, add_special_tokens=False).ids
                if add_special:
                    # What transformers does (and the SDK's add_special): BOS first when the config
                    # asks for it; `tokenizers` alone adds nothing with a ByteLevel post-processor.
                    ids = ([bos_id] if bos_id is not None else []) + list(ids)
                    if hf_fast is not None:
                        # Recorded, never copied: transformers 5.x rebuilds a LlamaTokenizerFast
                        # from vocab + merges and drops DeepSeek-V3's pre-tokenizer (it loses
                        # every non-ASCII character), so its ids are not a reference here.
                        ref = hf_fast(text, add_special_tokens=True)["input_ids"]
                        if list(ref) != list(ids):
                            mismatches_with_transformers += 1
                            if len(transformers_examples) < 3:
                                transformers_examples.append(
                                    {"text": text[:80], "transformers": list(ref)[:20],
                                     "tokenizers_plus_bos": list(ids)[:20]})
                rec = {"text": text, "add_special": add_special, "ids": list(ids)}
                decoded = tok.decode(ids, skip_special_tokens=False)
                if decoded != text:
                    rec["decoded"] = decoded
                f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
                n_tokens += len(ids)
        meta["vocabs"][name] = {
            "tokenizer_json_sha256": sha256(tj), "tokenizer_config_json_sha256": sha256(tc),
            "fixture": os.path.basename(out_path), "total_ids": n_tokens, "bos_id": bos_id,
            "add_special_mismatches_with_transformers": mismatches_with_transformers,
            "add_special_mismatch_examples": transformers_examples,
        }
        print(f"{name}: wrote {out_path} ({n_tokens} ids)", file=sys.stderr)

        # Speed: one core, one encode call per chunk, best of N passes after a warm-up pass.
        for c in chunks[:20]:
            tok.encode(c, add_special_tokens=False)
        best = None
        total_ids = 0
        for _ in range(args.bench_repeats):
            t0 = time.perf_counter()
            total_ids = 0
            for c in chunks:
                total_ids += len(tok.encode(c, add_special_tokens=False).ids)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        speed["vocabs"][name] = {
            "corpus_bytes": corpus_bytes, "chunks": len(chunks), "ids": total_ids,
            "best_seconds": round(best, 4), "mb_per_s": round(corpus_bytes / best / 1e6, 3),
            "tokens_per_s": round(total_ids / best, 1),
        }
        print(f"{name}: HF encode {corpus_bytes / best / 1e6:.2f} MB/s on one core", file=sys.stderr)

    try:
        import platform
        speed["machine"] = platform.processor() or platform.machine()
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    speed["cpu"] = line.split(":", 1)[1].strip()
                    break
    except Exception:  # noqa: BLE001
        pass
    speed["corpus"] = "scripts/gen_tokenizer_fixtures.py --write-bench-text (deterministic)"
    speed["date_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.path.join(args.out, "hf_speed.json"), "w", encoding="utf-8") as f:
        json.dump(speed, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
