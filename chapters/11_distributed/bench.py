#!/usr/bin/env python3
"""Chapter 11's benchmark: 2 ranks x 1 thread against 1 process x 2 threads, with `gpt2 train`.

    python3 chapters/11_distributed/bench.py --gpt2 build/bin/gpt2            # both models
    python3 chapters/11_distributed/bench.py --gpt2 build/bin/gpt2 --only main --repeats 5
    python3 chapters/11_distributed/bench.py --gpt2 build/bin/gpt2 --only 124m --compare old/gpt2

Two workloads: the main job's model (4 layers, 2 heads, 128 channels, context 128, a BPE of 1024
tokens, B = 8) and GPT-2 124M (B = 4, T = 64). Each is trained the same way (the same global
batch of 2 micro-batches per step, so every configuration computes the same bits) by

  - 1 process x 2 threads, --grad-accum 2;
  - 2 ranks x 1 thread, everything sent after backward (--bucket-mb 0);
  - 2 ranks x 1 thread, buckets sent during backward (--bucket-mb 1 for the small model, 8 for
    124M);
  - the same with ZeRO-1.

The runs are interleaved (every configuration once, then again, ...) so that a change of load
on a shared machine hits them all alike. For each run: tokens/s (from the median step time
of metrics.csv, without the first steps), the CPU seconds per step of all processes together
(summary.json; this includes the setup of training, so it is a little high), and how long each
rank's steps waited in collectives (summary.json's communication_wait_seconds): the
communication that was not hidden. What the overlap hides is the difference between the waits
without and with buckets. And how much of the gradient reduce had started, and had arrived, by
the end of backward (summary.json's reduce_started_in_backward, reduce_arrived_in_backward;
means over the ranks). Prints one Markdown table, and the optimizer memory per rank that
gpt2 reports with ZeRO-1; needs only Python's standard library,
gpt2 and mpirun. With --compare, every 2-rank configuration also runs with another build of
gpt2 (say, before a change), interleaved with the others, so that both see the same load.
The ranks run with OpenMPI's shared memory copying through its own buffers
(btl_vader_single_copy_mechanism = none, as chapter 11's tests do: containers forbid the
ptrace-based single copy); --single-copy cma tries the kernel's process_vm_readv instead, where
the machine allows one process to read another's memory.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env=None):
    started = time.time()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return time.time() - started, p.stdout


def metrics_step_seconds(run_dir, tokens_per_step, skip):
    rows = []
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        header = f.readline().strip().split(",")
        col = header.index("tokens_per_sec")
        for line in f:
            rows.append(float(line.strip().split(",")[col]))
    rates = rows[skip:] if len(rows) > skip else rows
    return statistics.median(tokens_per_step / r for r in rates if r > 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gpt2", default="build/bin/gpt2")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--mpirun-flags", default="--oversubscribe --allow-run-as-root")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["main", "124m"])
    ap.add_argument("--text", default="data/tinyshakespeare.txt")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--compare", default=None, help="another gpt2 binary: its 2-rank runs beside ours")
    ap.add_argument("--single-copy", choices=["none", "cma"], default="none",
                    help="OpenMPI's shared-memory single copy for the ranks (cma needs ptrace between them)")
    args = ap.parse_args()
    gpt2 = os.path.abspath(args.gpt2)
    other = os.path.abspath(args.compare) if args.compare else None
    work = args.work or tempfile.mkdtemp(prefix="gpt2_ch11_bench_")
    os.makedirs(work, exist_ok=True)
    env1 = dict(os.environ, OMP_NUM_THREADS="1", OMPI_MCA_btl_vader_single_copy_mechanism=args.single_copy)
    env2 = dict(os.environ, OMP_NUM_THREADS="2")

    # The data: a BPE of 1024 tokens for the main job's model, GPT-2's tokenizer for 124M.
    data_main, data_124m = os.path.join(work, "data_main"), os.path.join(work, "data_124m")
    if not os.path.exists(os.path.join(data_main, "train.bin")):
        run([gpt2, "prepare", "--input", args.text, "--vocab-size", "1024", "--out", data_main, "--force"])
    if not os.path.exists(os.path.join(data_124m, "train.bin")):
        run([gpt2, "prepare", "--input", args.text, "--out", data_124m, "--force"])

    # The main job's model has 0.94M parameters (3.8 MB of gradients): 1 MB buckets; GPT-2 124M
    # the default 8 MB.
    workloads = {
        "main": dict(name="main job's model (L=4, C=128, T=128, B=8)", data=data_main, steps=60, skip=5,
                     B=8, T=128, bucket_mb="1",
                     shape=["--n-layer", "4", "--n-head", "2", "--n-embd", "128", "--context", "128"]),
        "124m": dict(name="GPT-2 124M (B=4, T=64)", data=data_124m, steps=8, skip=2, B=4, T=64, bucket_mb="8",
                     shape=["--config", "gpt2", "--seq-len", "64"]),
    }

    def configs(w):
        mb = w["bucket_mb"]
        ours = [
            ("1 process x 2 threads", None, ["--grad-accum", "2"], gpt2),
            ("2 ranks x 1 thread, no overlap", 2, ["--bucket-mb", "0"], gpt2),
            ("2 ranks x 1 thread, %s MB buckets" % mb, 2, ["--bucket-mb", mb], gpt2),
            ("2 ranks x 1 thread, %s MB buckets, ZeRO-1" % mb, 2, ["--bucket-mb", mb, "--zero1"], gpt2),
        ]
        theirs = [(label + " (--compare)", ranks, extra, other) for label, ranks, extra, _ in ours if ranks]
        return ours + (theirs if other else [])

    load_start = os.getloadavg()
    results, memory = {}, {}
    for key, w in workloads.items():
        if args.only and key != args.only:
            continue
        for rep in range(args.repeats):
            for label, ranks, extra, binary in configs(w):
                out = os.path.join(work, "run")
                shutil.rmtree(out, ignore_errors=True)
                cmd = [binary, "train", "--data", w["data"], "--out", out, "--batch-size", str(w["B"]),
                       "--steps", str(w["steps"]), "--warmup", "2", "--eval-interval", "0",
                       "--checkpoint-interval", "0", "--no-progress"] + w["shape"] + extra
                if ranks:
                    cmd = [args.mpirun] + args.mpirun_flags.split() + ["-np", str(ranks)] + cmd
                wall, output = run(cmd, env1 if ranks else env2)
                for line in output.splitlines():  # the start message's line on the ranks
                    if line.startswith("data parallel over") and "ZeRO-1" in line and binary == gpt2:
                        memory[key] = line[line.index("ZeRO-1"):]
                with open(os.path.join(out, "summary.json")) as f:
                    s = json.load(f)
                tokens_per_step = w["B"] * w["T"] * 2
                step = metrics_step_seconds(out, tokens_per_step, w["skip"])
                r = results.setdefault((key, label), dict(step=[], cpu=[], wait=[], started=[], arrived=[]))
                r["step"].append(step)
                r["cpu"].append(s["cpu_seconds"] / s["completed_steps"])
                r["wait"].append(max(s["communication_wait_seconds"]) / s["completed_steps"])
                for k, field in (("started", "reduce_started_in_backward"), ("arrived", "reduce_arrived_in_backward")):
                    if field in s:  # 2 ranks of a gpt2 that reports it
                        r[k].append(statistics.mean(s[field]))
                print("%s | %s | run %d: %.3f s/step, %.0f s wall" % (w["name"], label, rep + 1, step, wall),
                      file=sys.stderr, flush=True)
                shutil.rmtree(out, ignore_errors=True)

    load = os.getloadavg()
    print("\nload average (1, 5, 15 min) at the start %.1f %.1f %.1f, at the end %.1f %.1f %.1f; %d runs each, "
          "medians\n" % (load_start + load + (args.repeats,)))
    print("| model | configuration | tokens/s | vs 1 process | CPU s/step | waited s/step (max rank) "
          "| reduce started / arrived in backward |")
    print("|---|---|---|---|---|---|---|")
    for key, w in workloads.items():
        base = results.get((key, configs(w)[0][0]))
        for label, _, _, _ in configs(w):
            r = results.get((key, label))
            if not r:
                continue
            step = statistics.median(r["step"])
            rate = w["B"] * w["T"] * 2 / step
            ratio = statistics.median(base["step"]) / step if base else float("nan")
            overlap = ("%.0f%% / %.0f%%" % (100 * statistics.median(r["started"]),
                                            100 * statistics.median(r["arrived"]))) if r["started"] else "-"
            print("| %s | %s | %.0f | %.2f | %.2f | %.3f | %s |" % (w["name"], label, rate, ratio,
                                                                   statistics.median(r["cpu"]),
                                                                   statistics.median(r["wait"]), overlap))
    print()
    for key, w in workloads.items():
        if key in memory:
            print("%s, 2 ranks: %s" % (w["name"], memory[key]))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
