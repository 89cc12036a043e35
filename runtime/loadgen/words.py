"""The built-in word list prompts are drawn from, and the function that draws them.

The words are short, common English words, so most tokenizers map each (with its leading space)
to one token; a prompt of n words is therefore about n tokens. The list is fixed: changing it
changes every seeded workload.
"""

from __future__ import annotations

import random

WORDS: tuple[str, ...] = tuple(
    """
    the of and to in is it you that he was for on are with as his they be at one have this
    from or had by hot word but what some we can out other were all there when up use your how
    said an each she which do their time if will way about many then them write would like so
    these her long make thing see him two has look more day could go come did number sound no
    most people my over know water than call first who may down side been now find any new work
    part take get place made live where after back little only round man year came show every
    good me give our under name very through just form great think say help low line differ turn
    cause much mean before move right boy old too same tell does set three want air well also play
    small end put home read hand port large spell add even land here must big high such follow act
    why ask men change went light kind off need house picture try us again animal point mother
    world near build self earth father head stand own page should country found answer school
    grow study still learn plant cover food sun four between state keep eye never last let thought
    city tree cross farm hard start might story saw far sea draw left late run while press close
    night real life few north open seem together next white children begin got walk example ease
    paper group always music those both mark often letter until mile river car feet care second
    book carry took science eat room friend began idea fish mountain stop once base hear horse cut
    sure watch color face wood main enough plain girl usual young ready above ever red list though
    feel talk bird soon body dog family direct pose leave song measure door product black short
    """.split()
)


def draw_words(rng: random.Random, num_words: int) -> str:
    """`num_words` words from `WORDS` chosen with `rng`, joined by single spaces ("" for 0)."""
    if num_words < 0:
        raise ValueError(f"num_words must be >= 0, got {num_words}")
    return " ".join(rng.choices(WORDS, k=num_words))
