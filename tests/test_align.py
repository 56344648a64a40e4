import numpy as np

from agegender.vision import align


def test_template_scales_with_output_size():
    np.testing.assert_allclose(align.template(224), align.template(112) * 2)


def test_landmarks_on_the_template_give_the_identity_warp():
    matrix = align.similarity_matrix(align.template(112), 112)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-3)


def test_warp_puts_the_eyes_where_the_template_has_them():
    image = np.zeros((400, 400, 3), np.uint8)
    rng = np.random.default_rng(1)
    points = align.template(112) * 1.7 + [120, 90]
    rotation = np.deg2rad(12)
    centre = points.mean(axis=0)
    r = np.array([[np.cos(rotation), -np.sin(rotation)], [np.sin(rotation), np.cos(rotation)]])
    points = (points - centre) @ r.T + centre
    for x, y in points[:2]:
        image[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2] = 255
    crop = align.align_face(image, points + rng.normal(0, 0.05, points.shape), 112)
    for (tx, ty) in align.template(112)[:2]:
        assert crop[int(round(ty)), int(round(tx))].max() > 100


def test_face_at_the_border_is_filled_not_dropped():
    image = np.full((100, 100, 3), 200, np.uint8)
    points = align.template(112) * 0.8 - [30, 30]  # half outside the top-left corner
    crops = align.align_faces(image, points[None], 112)
    assert crops.shape == (1, 112, 112, 3)
    assert (crops == 200).all()  # replicated edge, no black fill


def test_no_faces_gives_an_empty_batch():
    assert align.align_faces(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 5, 2)), 112).shape == (0, 112, 112, 3)


def test_training_crops_with_the_same_module():
    from training import crops
    assert crops.align_face is align.align_face
    assert crops.TEMPLATE_ID == align.TEMPLATE_ID
