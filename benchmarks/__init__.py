"""Benchmarks: speed measured side by side with reference implementations in the same process.

Kept apart from app/ because the references (facenet-pytorch's MTCNN) need torch, which the runtime
package never imports. `agegender bench` runs them.
"""
