# Copyright (c) mmavs contributors. All rights reserved.
from .dice_loss import AVSDiceLoss

__all__ = ['AVSDiceLoss']
