#!/usr/bin/env python3
"""A bounded load test of `gpt2 serve` on localhost: N concurrent clients stream completions for a
fixed time, and the test checks that every request completes (a finish_reason, then [DONE]) and
that the server's memory stays flat, and prints each client's time to first token and tokens/s.

The server runs one request at a time (serve_queue.h), so with N clients each request waits for up
to N - 1 others: the time to first token (ttft) includes that wait. Two speeds per client: while
its request streams (from its first token to its last: the server's decoding speed), and over the
whole run (its tokens divided by the wall time: about the server's speed divided by N).

Memory: the server's resident set (VmRSS in /proc/PID/status) is sampled twice a second. After a
warm-up (the first quarter of the run: buffers and thread stacks reach their working size), the
largest sample of the last quarter may exceed the largest of the warm-up by at most
--max-growth-mib: a leak of even a few hundred bytes per request would exceed that over the
thousands of requests of a run.

Usage (Python's standard library only):
  python3 load_test.py --gpt2 build/bin/gpt2 --model tests/fixtures/12_tiny_model --seconds 10
  python3 load_test.py --gpt2 build/bin/gpt2 --model runs/main/train/model --clients 8 --seconds 30
"""
import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one_request(host, port, body):
    """Streams one completion. Returns (time to first token, seconds from first to last token,
    tokens) or raises on anything but a complete, well-formed stream."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    if res.status != 200:
        raise RuntimeError(f"status {res.status}: {res.read()[:200]!r}")
    first = last = None
    tokens, finish, done = 0, None, False
    while True:
        line = res.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        payload = line[6:]
        if payload == b"[DONE]":
            done = True
            break
        chunk = json.loads(payload)
        c = chunk["choices"][0]
        if c.get("logprobs") and c["logprobs"]["tokens"]:
            now = time.perf_counter()
            first = first or now
            last = now
            tokens += len(c["logprobs"]["tokens"])
        if c.get("finish_reason"):
            finish = c["finish_reason"]
    conn.close()
    if not done or finish is None:
        raise RuntimeError(f"the stream ended early (finish_reason {finish}, [DONE] {done})")
    if first is None:
        return 0.0, 0.0, 0
    return first - t0, last - first, tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpt2", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--prompt", default="ROMEO:\n")
    ap.add_argument("--max-growth-mib", type=float, default=8.0)
    args = ap.parse_args()

    server = subprocess.Popen([args.gpt2, "serve", "--model", args.model, "--port", "0", "--quiet",
                               "--max-queue", str(max(16, args.clients))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    while line and "open http" not in line:
        line = server.stdout.readline()
    m = re.search(r"http://([^:/]+):(\d+)/", line)
    if not m:
        print("FAILED: gpt2 serve printed no URL: " + server.stderr.read(), file=sys.stderr)
        return 1
    host, port = m.group(1), int(m.group(2))

    stop_at = time.perf_counter() + args.seconds
    results = [[] for _ in range(args.clients)]  # per client: (ttft, decode seconds, tokens)
    failures = []
    samples = []  # (seconds since start, RSS MiB)

    def client(k):
        i = 0
        while time.perf_counter() < stop_at:
            body = {"prompt": args.prompt, "max_tokens": args.max_tokens, "temperature": 0.8, "top_k": 40,
                    "seed": 1000 * k + i, "stream": True, "logprobs": 0, "ignore_eos": True}
            try:
                results[k].append(one_request(host, port, body))
            except Exception as e:  # noqa: BLE001 -- every failure is reported
                failures.append(f"client {k} request {i}: {e}")
            i += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        samples.append((time.perf_counter() - start, rss_mib(server.pid)))
        time.sleep(0.5)
    for t in threads:
        t.join()
    wall = time.perf_counter() - start

    server.send_signal(signal.SIGINT)
    try:
        server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        failures.append("the server did not stop within 30 s of SIGINT")

    print(f"{args.clients} clients for {args.seconds:.0f} s (all done after {wall:.1f} s), "
          f"{args.max_tokens} tokens per request, model {args.model}")
    print(f"{'client':>6} {'requests':>8} {'ttft mean':>10} {'ttft max':>9} {'tokens/s streaming':>19} {'overall':>8}")
    total_tokens = 0
    for k, rs in enumerate(results):
        if not rs:
            failures.append(f"client {k} completed no request")
            continue
        short = [r[2] for r in rs if r[2] != args.max_tokens]
        if short:
            failures.append(f"client {k}: {len(short)} requests streamed other than {args.max_tokens} tokens")
        ttft = [r[0] for r in rs]
        tokens = sum(r[2] for r in rs)
        decode = sum(r[1] for r in rs)
        total_tokens += tokens
        rate = (tokens - len(rs)) / decode if decode > 0 else 0.0
        print(f"{k:>6} {len(rs):>8} {1000 * statistics.mean(ttft):>8.0f}ms {1000 * max(ttft):>7.0f}ms {rate:>19.1f} "
              f"{tokens / wall:>8.1f}")
    print(f"all: {sum(len(r) for r in results)} requests, {total_tokens} tokens, "
          f"{total_tokens / wall:.0f} tokens/s through the server")

    quarter = [rss for t, rss in samples if t <= args.seconds / 4]
    last = [rss for t, rss in samples if t >= 3 * args.seconds / 4]
    if quarter and last:
        growth = max(last) - max(quarter)
        print(f"server memory: {max(quarter):.1f} MiB after the warm-up, {max(last):.1f} MiB at the end "
              f"(growth {growth:+.1f} MiB, allowed {args.max_growth_mib} MiB); "
              f"samples {min(s for _, s in samples):.1f} to {max(s for _, s in samples):.1f} MiB")
        if growth > args.max_growth_mib:
            failures.append(f"the server's memory grew by {growth:.1f} MiB")
    for f in failures[:20]:
        print("FAILED: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
