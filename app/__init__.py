"""AgeGender Live: real-time age and gender estimation, comparing a multi-task network with a single-task pair."""

__version__ = "0.1.0"
