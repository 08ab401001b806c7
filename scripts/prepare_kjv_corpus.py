#!/usr/bin/env python3
"""Extracts the King James Bible from Debian's `bible-kjv` package into plain text for tinyseek.

The text is public domain (the KJV translation of 1611; see /usr/share/doc/bible-kjv-text/copyright).
One verse per line, verse numbers dropped, a chapter heading line ("Genesis 1") before each chapter.
Every 20th chapter (chapters 20, 40, ... counted over the whole Bible) is held out for evaluation.

  apt-get install bible-kjv          # brings bible-kjv-text, the data
  python3 scripts/prepare_kjv_corpus.py --train out/corpus/kjv-train.txt \
      --heldout samples/models/tinyseek/heldout.txt
"""
import argparse
import os
import re
import subprocess
import sys


def chapters():
    try:
        raw = subprocess.run(["bible", "Genesis 1:1-Revelation 22:21"], check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        sys.exit("prepare_kjv_corpus: the `bible` program is missing: apt-get install bible-kjv")
    heading = re.compile(r"^([1-3]?\s?[A-Z][A-Za-z ]+) (\d+)$")
    verse = re.compile(r"^\s+(\d+) (.*)$")
    title, verses = None, []
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = heading.match(line)
        if m:
            if title:
                yield title, verses
            title, verses = line.strip(), []
            continue
        m = verse.match(line)
        if m:
            verses.append(m.group(2).strip())
        elif verses:
            verses[-1] += " " + line.strip()  # continuation of a wrapped verse
    if title:
        yield title, verses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--heldout", required=True)
    args = ap.parse_args()
    train, held = [], []
    for i, (title, verses) in enumerate(chapters(), start=1):
        block = title + "\n" + "\n".join(verses) + "\n\n"
        (held if i % 20 == 0 else train).append(block)
    if len(train) + len(held) < 1000:
        sys.exit(f"prepare_kjv_corpus: only {len(train) + len(held)} chapters found; expected 1189")
    for path, blocks in ((args.train, train), (args.heldout, held)):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(blocks))
    print(f"{len(train)} training chapters -> {args.train}, {len(held)} held-out -> {args.heldout}")


if __name__ == "__main__":
    main()
