# Copyright (c) mmavs contributors. All rights reserved.
from .av_matching_loss import AVMatchingLoss
from .dice_loss import AVSDiceLoss

__all__ = ['AVMatchingLoss', 'AVSDiceLoss']
