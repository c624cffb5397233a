# Copyright (c) mmavs contributors. All rights reserved.
from .avs_data_preprocessor import AVSDataPreProcessor

__all__ = ['AVSDataPreProcessor']
