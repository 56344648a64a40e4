"""`agegender bench`: speed measured side by side with a reference implementation in the same process.

The reference, facenet-pytorch's MTCNN, needs torch, which nothing else in the package imports: it is
loaded only here, and where it is not installed the bench says so and prints its own figures.
"""
