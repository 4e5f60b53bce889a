"""Keep a long run's resident memory bounded."""

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def cap_malloc_arenas(count: int = 2) -> bool:
    """Limit glibc to `count` malloc arenas for the rest of the process.

    glibc gives threads that allocate their own arenas (up to 8 per core) and rarely returns their freed
    memory: tf.data's decode threads, Pillow and TensorFlow's thread pools then hold hundreds of MB
    more than they use (measured on a 2,000-image folder: 1.42 GiB peak without the cap, 1.25 GiB with).
    The CLI calls this at start; an explicit MALLOC_ARENA_MAX in the environment wins.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, count))
    except (OSError, AttributeError):  # musl or another libc: nothing to cap
        return False
