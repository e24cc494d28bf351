// The Swift API of ld4mrec: one import for Swift apps, re-exporting each layer.
@_exported import LD4MRecCore
@_exported import LD4MRecServing
@_exported import LD4MRecStorage
@_exported import LD4MRecTraining
