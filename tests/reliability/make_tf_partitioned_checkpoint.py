"""Write a tiny TensorFlow checkpoint holding a partitioned (sliced) variable.

Run from the repository root in the tensorflow lane's environment:

    python -m tests.reliability.make_tf_partitioned_checkpoint

It writes tests/reliability/fixtures/tf_partitioned/model.ckpt.index and
`.data-00000-of-00001`, saved by `tf.compat.v1.train.Saver`: `embeddings`
(6, 2), ones, stored as two slices of (3, 2), and `bias` = [0, 1, 2], whole.
The slices are table keys that start with a zero byte (not UTF-8 names), and
the full entry of `embeddings` lists them: the reader must refuse that tensor
by name and still read `bias`.
"""

import os

import numpy as np

FOLDER = os.path.join(os.path.dirname(__file__), "fixtures", "tf_partitioned")
PREFIX = os.path.join(FOLDER, "model.ckpt")
BIAS = np.arange(3, dtype="float32")


def main():
    import tensorflow as tf

    os.makedirs(FOLDER, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.get_variable(
            "embeddings",
            shape=(6, 2),
            initializer=tf.compat.v1.ones_initializer(),
            partitioner=tf.compat.v1.fixed_size_partitioner(2),
        )
        tf.compat.v1.get_variable("bias", initializer=BIAS)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, PREFIX, write_meta_graph=False)
    os.remove(os.path.join(FOLDER, "checkpoint"))
    print(f"Wrote {FOLDER}: {sorted(os.listdir(FOLDER))}")


if __name__ == "__main__":
    main()
