"""Stage train: the trainer (`trainer`), the training session and checkpoints, one module per recipe (`recipes`),
the resident feed, run folders (`runs`, `manifest`) and plots. Keras is imported inside the functions."""
