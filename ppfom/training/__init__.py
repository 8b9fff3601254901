"""Training FOM on one's own videos: data, losses, the training loop and evaluation.

Kept apart from inference so that ``import ppfom`` stays light; one concept
per module: ``dataset`` (video layouts, sampling), ``transforms``
(augmentation), ``losses``, ``trainer``, ``distributed``, ``evaluation``.
"""
