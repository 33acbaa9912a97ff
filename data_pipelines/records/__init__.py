"""Record writing: the schema, clip loading and preprocessing, the tfds builder and the clip index."""
