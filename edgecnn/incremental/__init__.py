"""Incremental builds: each stage of a build records a key (a hash of exactly what it reads) and the
hashes of the files it wrote in the run folder's manifest; the next build reuses every stage whose key
is unchanged and whose files are intact, and an optional shared cache lends stages across run folders.

    keys.py       what each stage reads (StagePlan) and the key that hashes it
    manifest.py   the run folder's record of keys and outputs, and the decision: reuse or run, and why
    cache.py      the shared, size-bounded cache (`--cache DIR`, EDGECNN_CACHE; `edgecnn cache list|clear`)
"""
