"""Tests of image analysis (issue 7): trees, dive figures, CLI, backends, diff."""
