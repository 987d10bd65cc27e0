"""Training: a cell's run and its step (training_run), the trainers that train cells solo, fused
or packed and write their records (train), seed fusion (fusion, checked by fusion_check), the fast
path (fastpath), CUDA graphs (cuda_graphs), packs (packs), the cell lock and parent watch (guard),
stop requests (signals), the device slot a job holds (devices), the weights file's checksums
(weights_file), and loading a trained cell with the provenance of the code that ran (checkpoints).

The door is acai_repro.training.train (train_cell, train_pack) for training and
acai_repro.training.checkpoints (load_trained) for what comes after.
"""
