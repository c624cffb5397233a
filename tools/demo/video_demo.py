# Copyright (c) mmavs contributors. All rights reserved.
"""Segment the sounding objects of your own videos.

A thin wrapper of the ``mmavs-demo`` console command
(:func:`mmavs_cli.main`), for use from a source checkout::

    python tools/demo/video_demo.py my_video.mp4 \\
        --config avsegformer_r50_1xb4-30e_avsbench-s4-224x224 \\
        --checkpoint avsegformer_r50_s4.pth --out-dir outputs --device cpu

Run with ``--help`` for every option.
"""
import os.path as osp
import sys

# The checkout's root, where mmavs_cli.py lives, also without an install.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmavs_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
