# Copyright (c) mmavs contributors. All rights reserved.
"""Export an mmavs model to ONNX, for ONNX Runtime, OpenVINO and others.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] \\
        --out model.onnx [--shape H W] [--num-frames T] [--batch-size B] \\
        [--opset 17] [--verify]

Writes ``model.onnx`` and ``model.onnx.json`` (the config, inputs, output,
normalisation and the facts the inferencer needs; see
:func:`mmavs.apis.deploy.export_onnx`). Run it with the same inferencer::

    mmavs-demo video.mp4 --checkpoint model.onnx [--backend openvino]

``--verify`` runs ONNX Runtime and PyTorch on the same random clip and
prints the largest difference; the exit status is 1 when it exceeds
``--tolerance`` (1e-4).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export an mmavs model to ONNX (with a sidecar .json)')
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='weights (without: random weights, a warning)')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='frame size (default: the test pipeline\'s)')
    parser.add_argument('--num-frames', type=int, default=None,
                        help='frames per clip T (default: 5, AVSS 10)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='a fixed number of clips (default: dynamic)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--verify', action='store_true',
                        help='compare ONNX Runtime with PyTorch')
    parser.add_argument('--tolerance', type=float, default=1e-4)
    args = parser.parse_args(argv)
    if not args.out.lower().endswith('.onnx'):
        parser.error(f'--out must end with .onnx, got {args.out}')
    if args.num_frames is not None and args.num_frames < 1:
        parser.error('--num-frames must be >= 1')
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmavs.apis.deploy import export_onnx
    start = time.time()
    meta = export_onnx(args.config, args.checkpoint, args.out,
                       shape=args.shape, num_frames=args.num_frames,
                       batch_size=args.batch_size, opset=args.opset,
                       verify=args.verify)
    frames, audio = (spec['shape'] for spec in meta['inputs'])
    print(f'{args.out}: frames {frames}, audio {audio} -> seg_logits '
          f'{meta["outputs"][0]["shape"]} ({meta["outputs"][0]["meaning"]})'
          f', opset {meta["opset"]}, {time.time() - start:.1f} s')
    if args.verify:
        diff = meta['max_abs_diff']
        print(f'verify: largest |ONNX Runtime - PyTorch| = {diff:.3g} '
              f'(tolerance {args.tolerance:g})')
        return 0 if diff <= args.tolerance else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
