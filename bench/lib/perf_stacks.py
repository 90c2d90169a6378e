"""The samples of `perf script -F tid,ip,sym` (the profiles of bench/*_overhead.sh with PERF=1).

Imported by the Python the scripts run with perf_python (bench/lib/common.sh):
    read_samples(lines)   the samples: one list a sample of its frames' symbols, the sampled function
                          first, towards main
    busy_count(samples)   how many are busy (no WaitEventSetWait on the stack: not waiting for the
                          client's next message), at least 1
"""


def read_samples(lines):
    samples, frames = [], None
    for line in lines:
        if not line.strip():
            if frames is not None: samples.append(frames)
            frames = None
        elif not line.startswith("\t"):
            frames = []
        elif frames is not None:
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "?")
    if frames: samples.append(frames)
    return samples


def busy_count(samples):
    return max(sum(1 for s in samples if not any("WaitEventSetWait" in f for f in s)), 1)
