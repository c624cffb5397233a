# Copyright (c) mmavs contributors. All rights reserved.
"""Class names and palettes of the AVSBench data sets.

One place for these facts: the data sets' ``METAINFO``, the mask readers,
the synthetic data writer, the metrics, the visualizer and the inferencer
all take them from here.
"""
from typing import List, Optional

#: The 71 AVSS classes in index order (``label2idx.json``); 0 = background.
AVSS_CLASSES = ('background', 'accordion', 'airplane', 'axe', 'baby',
                'bassoon', 'bell', 'bird', 'boat', 'boy', 'bus', 'car', 'cat',
                'cello', 'clarinet', 'clipper', 'clock', 'dog', 'donkey',
                'drum', 'duck', 'elephant', 'emergency-car', 'erhu', 'flute',
                'frying-food', 'girl', 'goose', 'guitar', 'gun', 'guzheng',
                'hair-dryer', 'handpan', 'harmonica', 'harp', 'helicopter',
                'hen', 'horse', 'keyboard', 'leopard', 'lion', 'man',
                'marimba', 'missile-rocket', 'motorcycle', 'mower', 'parrot',
                'piano', 'pig', 'pipa', 'saw', 'saxophone', 'sheep', 'sitar',
                'sorna', 'squirrel', 'tabla', 'tank', 'tiger', 'tractor',
                'train', 'trombone', 'truck', 'trumpet', 'tuba', 'ukulele',
                'utv', 'vacuum-cleaner', 'violin', 'wolf', 'woman')

#: The 23 S4 categories (folder names of the released data set).
S4_CATEGORIES = ('ambulance_siren', 'baby_laughter', 'cap_gun_shooting',
                 'cat_meowing', 'chainsawing_trees', 'coyote_howling',
                 'dog_barking', 'driving_buses', 'female_singing',
                 'helicopter', 'horse_clip-clop', 'lawn_mowing',
                 'lions_roaring', 'male_speech', 'mynah_bird_singing',
                 'playing_acoustic_guitar', 'playing_glockenspiel',
                 'playing_piano', 'playing_tabla', 'playing_ukulele',
                 'playing_violin', 'race_car', 'typing_on_computer_keyboard')

#: Classes of the binary (S4, MS3) data sets.
BINARY_CLASSES = ('background', 'foreground')
#: Colours of the binary classes: black background, magenta foreground (it
#: stands out on natural images, where white or red often do not).
BINARY_PALETTE = [[0, 0, 0], [255, 0, 255]]


def bit_interleaved_palette(num_classes: int) -> List[List[int]]:
    """The VOC-style palette used by the AVSS colour masks.

    Bit ``k`` of every 3-bit group of the class index sets bit ``7 - k`` of
    R, G and B (group bits 0, 1, 2 respectively), so class 1 is (128, 0, 0),
    class 2 is (0, 128, 0) and class 3 is (128, 128, 0).

    Args:
        num_classes (int): Number of palette entries.

    Returns:
        list[list[int]]: ``num_classes`` RGB triplets.
    """
    palette = []
    for index in range(num_classes):
        rgb = [0, 0, 0]
        code, shift = index, 7
        while code:
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << shift
            code >>= 3
            shift -= 1
        palette.append(rgb)
    return palette


AVSS_PALETTE = bit_interleaved_palette(len(AVSS_CLASSES))


def complete_metainfo(meta: dict,
                      num_classes: int,
                      binary: bool,
                      dataset_metainfo: Optional[dict] = None) -> dict:
    """Fill in a model's missing class names and palette.

    Classes come from ``meta``, else from the data set's ``METAINFO`` when
    its class count fits the model, else ``class_0 ...``. Binary models
    always draw with :data:`BINARY_PALETTE`; class models without a palette
    get the bit-interleaved one.

    Args:
        meta (dict): ``classes`` / ``palette`` known so far (updated).
        num_classes (int): Classes the model predicts.
        binary (bool): One output channel (S4/MS3 models).
        dataset_metainfo (dict, optional): The config data set's
            ``METAINFO``.

    Returns:
        dict: ``meta`` with ``classes`` (a tuple) and ``palette``.
    """
    if not meta.get('classes'):
        metainfo = dataset_metainfo or {}
        if metainfo.get('classes') and (
                binary or len(metainfo['classes']) == num_classes):
            meta['classes'] = tuple(metainfo['classes'])
            meta.setdefault('palette', metainfo.get('palette'))
        elif binary:
            meta['classes'] = BINARY_CLASSES
        else:
            meta['classes'] = tuple(
                f'class_{index}' for index in range(num_classes))
    if binary:
        meta['palette'] = BINARY_PALETTE
    elif not meta.get('palette'):
        meta['palette'] = bit_interleaved_palette(len(meta['classes']))
    meta['classes'] = tuple(meta['classes'])
    return meta
