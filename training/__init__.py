"""Training side of AgeGender Live: PyTorch code that produces the ONNX files in models/.

Nothing under app/ imports this package; it imports agegender.vision.align so that training crops faces
exactly as the application does.
"""
