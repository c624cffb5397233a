# Copyright (c) mmavs contributors. All rights reserved.
from .avsegformer import AVEncoderDecoder, AVSegFormer

__all__ = ['AVEncoderDecoder', 'AVSegFormer']
