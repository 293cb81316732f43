"""Training: contrastive pre-training, retrieval evaluation and segmentation fine-tuning.

``loop`` holds the epoch loop shared by both stages (resume, checkpoints, signals, autocast),
``pretrain``/``finetune`` build the data and models of each stage, ``retrieval`` scores the
pre-trained embeddings on the test patients.
"""
