"""Behaviour over time: segment migration between snapshots scored by one frozen model
(:mod:`.migration`), trajectory clustering of customers' monthly sequences (:mod:`.trajectories`),
basket embeddings of products and customers (:mod:`.embeddings`), and their held-out evaluation."""
