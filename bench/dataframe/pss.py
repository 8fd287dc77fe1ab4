"""PSS of a process tree, sampled in the background (Linux).

    with TreePssSampler(every_ms=50) as s:     # root: this process by default
        ...                                    # the work, forking as it likes
        s.mark('work')                         # optional: peaks per phase too
    s.report()   # {peak_tree_pss_mib, peak_work_pss_mib, pss_samples, pss_max_gap_ms, ...}

PSS (proportional set size, /proc/<pid>/smaps_rollup) charges each resident page
to the processes mapping it in equal shares, so the sum over a tree counts a
page shared by the tree (a shared-memory segment, copy-on-write pages after
fork) once. Descendants are found through /proc/<pid>/task/*/children (every
thread's, since a thread other than the main one may fork). Same method as
bench/util.js (treePss) on the Node side.

TreePssSampler samples in a thread, so it needs the GIL: while the main thread
is inside a long C call that holds it (pickling a big object, converting 10M
Python strings to bytes), no sample is taken and a peak there can be missed.
At 10M rows the DataFrame job saw gaps of 2.5-5 s and a pickling peak 240 MiB
under the true one. ProcessPssSampler runs the same sampler in a child process
(`python pss.py --watch ROOT MS`, which leaves itself out of the sum), as
bench/pss-sampler.js does for Node; the benchmarks use it by default.

Either way a sample is taken at start and at stop, and the wait between samples
is every_ms (default 50, as bench/util.js) or 3x the wall time the last sample
took, whichever is longer: a sample stalls the measured process (see _run).
report() gives the peak, per-phase peaks (mark()), the number of samples and
the longest gap between two. NoSampler: the same interface, no sampling.
"""
import glob
import json
import os
import subprocess
import sys
import threading
import time

MiB = 1 << 20


def children(pid):
    out = []
    for path in glob.glob(f'/proc/{pid}/task/*/children'):
        try:
            with open(path) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def tree(root=None, exclude=()):
    """Pids of root (default: this process) and all its descendants."""
    out = [os.getpid() if root is None else root]
    i = 0
    while i < len(out):
        out.extend(c for c in children(out[i]) if c not in out and c not in exclude)
        i += 1
    return out


def pss(pid):
    """PSS in bytes of one process (0 if it is gone)."""
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_pss(root=None):
    """PSS in bytes summed over the tree under root."""
    return sum(pss(p) for p in tree(root))


class TreePssSampler:
    def __init__(self, root=None, every_ms=50, exclude=()):
        self.root = os.getpid() if root is None else root
        self.exclude = set(exclude)
        self.every = every_ms / 1e3
        self.peak = 0          # bytes, over the whole run
        self.phases = {}       # name -> peak bytes since mark(name)
        self.samples = 0
        self.max_gap_ms = 0.0
        self.max_procs = 0
        self._phase = None
        self._phase_began = 0.0
        self._last = None
        self._cost = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='pss-sampler', daemon=True)

    def sample(self):
        began = time.perf_counter()
        pids = tree(self.root, self.exclude)
        total = sum(pss(p) for p in pids)
        with self._lock:
            now = time.perf_counter()
            if self._last is not None:
                self.max_gap_ms = max(self.max_gap_ms, (now - self._last) * 1e3)
            self._last = now
            self.samples += 1
            self.peak = max(self.peak, total)
            if self._phase is not None and began >= self._phase_began:
                self.phases[self._phase] = max(self.phases[self._phase] or 0, total)
            self.max_procs = max(self.max_procs, len(pids))
        return total

    def mark(self, phase):
        """Start a phase: its peak is the highest sample begun from now until
        the next mark (None if none began). Takes no sample, so it costs
        nothing where it is called."""
        with self._lock:
            self._phase = phase
            self._phase_began = time.perf_counter()
            self.phases[phase] = None

    def _run(self):
        # Reading smaps_rollup walks the target's page tables under its
        # mmap_lock: 10-30 ms for a 2 GiB process here, during which its
        # mmap/munmap (and the page faults queued behind them) wait. Sampling
        # every 20 ms made the 10M-row fill 75% slower; waiting at least 3x
        # the last sample's wall time keeps that stall under ~25%.
        while not self._stop.wait(max(self.every, 3 * self._cost)):
            t = time.perf_counter()
            self.sample()
            self._cost = time.perf_counter() - t

    def start(self):
        self.sample()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.sample()
        return self

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def report(self):
        return {'peak_tree_pss_mib': round(self.peak / MiB, 1),
                **{f'peak_{k}_pss_mib': None if v is None else round(v / MiB, 1)
                   for k, v in self.phases.items()},
                'pss_samples': self.samples, 'pss_max_gap_ms': round(self.max_gap_ms, 1),
                'max_procs': self.max_procs}


class ProcessPssSampler:
    """TreePssSampler run in a child process; start() returns once it sampled."""
    def __init__(self, root=None, every_ms=50):
        self.root = os.getpid() if root is None else root
        self.every_ms = every_ms
        self.result = None

    def _say(self, line, reply=True):
        # lines, not EOF: children forked meanwhile hold the pipe open too
        self._p.stdin.write(line + '\n')
        self._p.stdin.flush()
        return self._p.stdout.readline() if reply else None

    def start(self):
        self._p = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--watch',
                                    str(self.root), str(self.every_ms)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._p.stdout.readline().strip() == 'ready'
        return self

    def mark(self, phase):
        self._say(f'mark {phase}', reply=False)

    def stop(self):
        self.result = json.loads(self._say('stop'))
        self._p.wait()
        self.peak = self.result['peak_bytes']
        return self

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def report(self):
        return {k: v for k, v in self.result.items() if k != 'peak_bytes'}


class NoSampler:
    """The same interface, sampling nothing: to time a run unperturbed."""
    def __init__(self, root=None, every_ms=50):
        pass

    def start(self):
        return self

    def mark(self, phase):
        pass

    def stop(self):
        return self

    __enter__ = start

    def __exit__(self, *exc):
        pass

    def report(self):
        return {'peak_tree_pss_mib': None}


def _watch(root, every_ms):
    s = TreePssSampler(root, every_ms, exclude={os.getpid()}).start()
    print('ready', flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd[:1] == ['mark']:
            s.mark(cmd[1])
        elif cmd == ['stop']:
            break
    s.stop()
    print(json.dumps({**s.report(), 'peak_bytes': s.peak}), flush=True)


if __name__ == '__main__':
    if sys.argv[1:2] == ['--watch']:
        _watch(int(sys.argv[2]), float(sys.argv[3]))
    else:
        root = int(sys.argv[1]) if len(sys.argv) > 1 else None
        print(f'{tree_pss(root) / MiB:.1f} MiB over {len(tree(root))} processes')
