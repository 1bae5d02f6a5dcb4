"""Export a trained run (or an untrained design) as a bundle for STM32: Keras, TFLite, C sources and a report.

``designer.export.bundle.export_bundle`` does the work; ``python -m designer.export.worker`` runs it out of
process speaking the JSON-lines protocol of ``designer.export.protocol``; ``designer.export.stedgeai`` parses
X-CUBE-AI analyze reports. Importing this package loads no TensorFlow.
"""
