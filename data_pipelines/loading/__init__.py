"""Loading: the tf.data input pipeline, epoch plans, length buckets and cross-reconstruction triplets."""
