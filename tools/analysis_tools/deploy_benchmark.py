# Copyright (c) mmavs contributors. All rights reserved.
"""Speed and memory of a model eager in PyTorch, in ONNX Runtime and in
OpenVINO, on the same clips.

    python tools/analysis_tools/deploy_benchmark.py CONFIG [CONFIG ...]
        [--checkpoint CKPT] [--rounds 3] [--repeats 5] [--static]
        [--work-dir work_dirs/deploy_benchmark] [--out results.json]

Each config is exported (random weights, saved once, unless a checkpoint
is given; speed does not depend on them) with a dynamic batch, and with
``--static`` also with a fixed batch of one clip. Each backend runs in
its own process (its peak RSS is its own), one clip of T frames at the
config's size at a time, fp32; the backends take turns for ``--rounds``
rounds (a shared machine's noise falls on all of them) and each round
times ``--repeats`` clips after one warm-up. Printed: the median seconds
per clip, clips/s, the speed-up over eager PyTorch, peak RSS (of a
process that imports mmavs, as the inferencer does) and the largest
difference to PyTorch's output.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time
from typing import List

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

BACKENDS = ('pytorch', 'onnxruntime', 'openvino')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--checkpoint')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--static', action='store_true',
                        help='also a graph with a fixed batch of one clip')
    parser.add_argument('--work-dir', default='work_dirs/deploy_benchmark')
    parser.add_argument('--out')
    # One measurement, in a process of its own (used by the parent).
    parser.add_argument('--one', nargs=3, metavar=('BACKEND', 'ONNX', 'N'),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def clip_inputs(meta: dict):
    """The same random clip for every backend."""
    import numpy as np
    rng = np.random.default_rng(0)
    frames, audio = (spec['shape'] for spec in meta['inputs'])
    frames = [1] + frames[1:]
    audio = [1] + audio[1:]
    return (rng.random(frames, np.float32) * 255,
            rng.standard_normal(audio).astype(np.float32) - 3)


def measure_one(backend: str, graph: str, repeats: int) -> dict:
    """Time one backend on the graph's clip (in this process)."""
    import torch
    from mmavs.apis.inferencer.backends import OnnxBackend, read_meta
    meta = read_meta(graph)
    frames, audio = clip_inputs(meta)
    if backend == 'pytorch':
        from mmengine.config import Config
        from mmengine.registry import init_default_scope

        from mmavs.apis.deploy import DeployableModel
        from mmavs.apis.model_init import init_model
        cfg = Config.fromstring(meta['config'], '.py')
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        weights = meta.get('benchmark_checkpoint')
        model = DeployableModel(init_model(cfg, weights, 'cpu'),
                                meta['size']).eval()

        def run():
            with torch.no_grad():
                return model(torch.from_numpy(frames),
                             torch.from_numpy(audio)).numpy()
    else:
        runner = OnnxBackend(graph, backend)

        def run():
            return runner.run(frames, audio)

    output = run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return dict(times=times, output=output.reshape(-1)[:4096].tolist(),
                peak_rss_mb=peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's own peak RSS (MB): VmHWM, which starts afresh at
    exec, where Linux's ru_maxrss keeps the parent's peak."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_checkpoint(config: str, folder: str) -> str:
    """Random weights for ``config``, saved once: every backend runs the
    same ones."""
    import torch
    from mmengine.registry import init_default_scope

    from mmavs.apis.inferencer.configs import load_config
    from mmavs.apis.model_init import init_model
    name = osp.splitext(osp.basename(config))[0]
    path = osp.join(folder, f'{name}_random.pth')
    if not osp.exists(path):
        cfg = load_config(config)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        model = init_model(cfg, None, 'cpu')
        torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def export(config: str, checkpoint, folder: str, static: bool) -> str:
    from mmavs.apis.deploy import export_onnx
    name = osp.splitext(osp.basename(config))[0]
    path = osp.join(folder, f'{name}{"_static" if static else ""}.onnx')
    checkpoint = checkpoint or random_checkpoint(config, folder)
    if not osp.exists(path):
        meta = export_onnx(config, checkpoint, path,
                           batch_size=1 if static else None)
        meta['benchmark_checkpoint'] = checkpoint
        with open(path + '.json', 'w') as file:
            json.dump(meta, file, indent=1)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        backend, graph, repeats = args.one
        print(json.dumps(measure_one(backend, graph, int(repeats))))
        return 0
    import numpy as np
    os.makedirs(args.work_dir, exist_ok=True)
    rows: List[dict] = []
    for config in args.configs:
        graphs = [export(config, args.checkpoint, args.work_dir, False)]
        if args.static:
            graphs.append(export(config, args.checkpoint, args.work_dir,
                                 True))
        runs = [('pytorch', graphs[0])] + [(backend, graph)
                                           for graph in graphs
                                           for backend in BACKENDS[1:]]
        results = {run: [] for run in runs}
        outputs, peaks = {}, {}
        for _ in range(args.rounds):
            for backend, graph in runs:
                done = subprocess.run(
                    [sys.executable, __file__, config, '--one', backend,
                     graph, str(args.repeats)],
                    capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results[(backend, graph)] += result['times']
                outputs[(backend, graph)] = np.array(result['output'])
                peaks[(backend, graph)] = result['peak_rss_mb']
        eager = float(np.median(results[runs[0]]))
        for backend, graph in runs:
            median = float(np.median(results[(backend, graph)]))
            row = dict(
                config=osp.basename(config), backend=backend,
                graph='static' if graph.endswith('_static.onnx') else
                'dynamic', seconds_per_clip=round(median, 3),
                clips_per_second=round(1 / median, 3),
                speedup=round(eager / median, 2),
                peak_rss_mb=round(peaks[(backend, graph)]),
                max_abs_diff=float(np.abs(outputs[(backend, graph)] -
                                          outputs[runs[0]]).max()))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print('| config | backend | graph | s / clip | clips/s | vs eager | '
          'peak RSS (MB) | max diff |')
    print('|---|---|---|---|---|---|---|---|')
    for row in rows:
        print(f'| {row["config"]} | {row["backend"]} | {row["graph"]} | '
              f'{row["seconds_per_clip"]} | {row["clips_per_second"]} | '
              f'{row["speedup"]}x | {row["peak_rss_mb"]} | '
              f'{row["max_abs_diff"]:.1e} |')
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(rows, file, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
