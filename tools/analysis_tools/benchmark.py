# Copyright (c) mmavs contributors. All rights reserved.
"""Inference speed, per-stage time, memory, FLOPs and parameters.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [--device cuda]
        [--batch-sizes 1 4] [--frames 5] [--size 224 224]
        [--dtype fp32 bf16] [--repeats 20] [--warmup 5] [--out bench.json]

The model is built from the config with random weights (nothing is
downloaded) and fed random clips of the given size with log-mel audio, so the
frozen VGGish runs too. Figures per (dtype, batch size): latency median and
quartiles, clips/s and frames/s, then the share of each stage (visual
backbone, VGGish, transformer encoder, mixer, decoder, the rest of the head =
mask generation, and the deformable attention inside the encoder), peak
memory, FLOPs and parameters.
"""
import argparse
import json
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark mmavs inference')
    parser.add_argument('config')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--frames', type=int, default=None,
                        help='frames per clip (default: 10 AVSS, else 5)')
    parser.add_argument('--size', type=int, nargs=2, default=[224, 224])
    parser.add_argument('--dtype', nargs='+', default=['fp32'],
                        choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--audio', default='log_mel',
                        choices=['log_mel', 'features'],
                        help='features = precomputed VGGish embeddings')
    parser.add_argument('--no-flops', action='store_true')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--out', help='write the figures as JSON')
    return parser.parse_args()


def build_model(config: str, device: torch.device):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmavs.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)  # init_cfg (downloads) is not applied
    return cfg, model.to(device).eval()


def frames_per_clip(cfg, override):
    from mmavs.datasets import avs_dataset_class
    dataset_class = avs_dataset_class(cfg.test_dataloader.dataset)
    return override or dataset_class.NUM_FRAMES


def count_flops(model, inputs):
    """FLOPs of one forward with mmengine's analyzer (None if it fails)."""
    from mmengine.analysis import FlopAnalyzer

    class Wrapper(torch.nn.Module):

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, frames, audio):
            return self.inner(dict(frames=frames, audio=audio), mode='tensor')

    try:
        analyzer = FlopAnalyzer(Wrapper(model),
                                (inputs['frames'], inputs['audio']))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return analyzer.total()
    except Exception as error:  # noqa: BLE001 - report, do not crash
        print(f'FLOP count failed: {error}', file=sys.stderr)
        return None


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmavs  # noqa: F401
    from mmavs.models.layers import MSDeformAttention
    from mmavs.testing import demo_av_batch
    from mmavs.utils.benchmark import (StageTimer, autocast, peak_memory_mb,
                                       reset_peak_memory, summarize,
                                       time_calls)

    device = torch.device(args.device)
    cfg, model = build_model(args.config, device)
    num_frames = frames_per_clip(cfg, args.frames)
    head = model.decode_head
    # The head is called through .forward/.predict (not __call__, as in
    # mmseg), so its time is the forward minus the two backbones.
    stages = dict(backbone=model.backbone, vggish=model.audio_backbone)
    for name in ('encoder', 'mixer', 'decoder'):
        if getattr(head, name, None) is not None:
            stages[name] = getattr(head, name)
    stages['deformable_attention'] = MSDeformAttention
    params = sum(p.numel() for p in model.parameters())
    report = dict(config=args.config, device=str(device),
                  device_name=torch.cuda.get_device_name(device)
                  if device.type == 'cuda' else 'cpu',
                  threads=torch.get_num_threads(), frames=num_frames,
                  size=args.size, params_m=params / 1e6,
                  head_params_m=sum(p.numel()
                                    for p in head.parameters()) / 1e6,
                  runs=[])
    for dtype in args.dtype:
        for batch_size in args.batch_sizes:
            inputs, _ = demo_av_batch(batch_size, num_frames,
                                      tuple(args.size), audio=args.audio)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            reset_peak_memory(device)

            def forward():
                with torch.no_grad(), autocast(device, dtype):
                    return model(inputs, mode='tensor')

            times = time_calls(forward, device, args.warmup, args.repeats)
            timer = StageTimer(stages, model, device)
            profile_times = time_calls(forward, device, 0, 3)
            stage_times = {k: v / 3 for k, v in timer.totals.items()}
            timer.remove()
            latency = summarize(times)
            head_time = sum(profile_times) / 3 - stage_times.get(
                'backbone', 0.0) - stage_times.get('vggish', 0.0)
            stage_times['head'] = head_time
            inner = sum(stage_times.get(k, 0.0)
                        for k in ('encoder', 'mixer', 'decoder'))
            stage_times['mask_generation_and_projections'] = max(
                head_time - inner, 0.0)
            run = dict(
                dtype=dtype, batch_size=batch_size, latency_s=latency,
                clips_per_s=batch_size / latency['median'],
                frames_per_s=batch_size * num_frames / latency['median'],
                profiled_forward_s=sum(profile_times) / 3,
                stage_s=stage_times,
                deformable_share_of_head=stage_times.get(
                    'deformable_attention', 0.0) / head_time
                if head_time else None,
                memory=peak_memory_mb(device))
            report['runs'].append(run)
            print(f'\n== {dtype}, batch {batch_size} clips x {num_frames} '
                  f'frames, {args.size[0]}x{args.size[1]}, {device} ==')
            print(f'latency median {latency["median"] * 1e3:.1f} ms '
                  f'(q1 {latency["q1"] * 1e3:.1f}, q3 '
                  f'{latency["q3"] * 1e3:.1f}, n={latency["n"]}); '
                  f'{run["clips_per_s"]:.2f} clips/s, '
                  f'{run["frames_per_s"]:.2f} frames/s')
            for name, seconds in stage_times.items():
                print(f'  {name:34s} {seconds * 1e3:9.1f} ms')
            if run['deformable_share_of_head'] is not None:
                print('  deformable attention / head forward: '
                      f'{100 * run["deformable_share_of_head"]:.1f}%')
            print('  memory: ' + ', '.join(
                f'{k} {v:.0f}' for k, v in run['memory'].items()))
    if not args.no_flops:
        inputs, _ = demo_av_batch(1, num_frames, tuple(args.size),
                                  audio=args.audio)
        flops = count_flops(model, {k: v.to(device)
                                    for k, v in inputs.items()})
        report['gflops_per_clip'] = flops / 1e9 if flops else None
        if flops:
            print(f'\nFLOPs per clip ({num_frames} frames): '
                  f'{flops / 1e9:.1f} G (mmengine FlopAnalyzer; the '
                  'deformable sampling is not counted)')
    print(f'parameters: {params / 1e6:.2f} M (head '
          f'{report["head_params_m"]:.2f} M)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
