"""cnn-designer's pure core: designs, shape inference, footprint estimators, boards.

Nothing here imports textual, and nothing imports tensorflow/keras at module level (a test checks it).
"""

from designer.design import Analysis, Design, DesignError, LayerStats, NotebookFigures, analyze

__all__ = ["Analysis", "Design", "DesignError", "LayerStats", "NotebookFigures", "analyze"]
